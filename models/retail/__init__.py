"""Retail models: customer record linkage (`linkage_splink`, baseline `dedup`), item-item sequence examples and
baselines (`sequences`), the two-tower retrieval model (`config`, `two_tower`), its training and evaluation
(`retrieval`) and the shop page (`shop`)."""

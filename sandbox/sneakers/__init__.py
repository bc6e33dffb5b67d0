"""The sandbox sneaker marketplace: a deterministic catalogue (catalogue.py), generated product images in
awkward file forms (images.py), the shop's HTTP server (marketplace.py) and its site profile
(marketplace_profile.yaml, `PROFILE` in marketplace.py)."""

"""Sneaker listings: records from a marketplace crawl, model/brand labels parsed from titles, product images
normalised to 224x224 RGB."""

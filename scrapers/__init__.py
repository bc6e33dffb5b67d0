"""Scrapers and crawlers that bring outside data in."""

"""The risk lab: what the margin functions say about many accounts, many paths and many scenarios."""

"""Code corpus sources: the GitHub GraphQL repository crawler (`github`), shallow clones and Python-file
extraction (`git_extraction`), and the quality filters and de-duplication (`filters`)."""

"""The sandbox GitHub: real local git repositories (`repositories`) and a GraphQL stand-in (`github_server`)."""

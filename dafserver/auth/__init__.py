"""middle_auth for dafserver: users, API keys, groups, dataset permissions and the request guards."""

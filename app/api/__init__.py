"""HTTP routers: thin layers that parse requests and call the domain modules."""

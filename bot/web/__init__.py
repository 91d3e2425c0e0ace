"""The bot's HTTP server (aiohttp): operations endpoints, and room for more route tables."""

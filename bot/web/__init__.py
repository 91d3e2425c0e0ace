"""The bot's HTTP server (aiohttp): operations endpoints and the back-office API."""

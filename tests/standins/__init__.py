"""Local stand-ins for external services (exchanges, chat APIs), speaking their wire protocols."""

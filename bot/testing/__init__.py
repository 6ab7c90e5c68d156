"""Local stand-ins that speak real chat-platform wire protocols, shipped in the package because ``liqmap bench``
measures the real Telegram library against them (the tests use them too). Never used by the running bot."""

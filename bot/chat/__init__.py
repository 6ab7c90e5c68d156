"""Chat side: the platform-neutral command service, argument parsing, replies and the console notifier.

Platform adapters (Telegram, Discord) live in subpackages and call ``bot.chat.service.ChatService``.
"""

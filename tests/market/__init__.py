"""Tests of bot.market."""

"""``python -m bot`` runs the same CLI as the ``liqmap`` console script."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

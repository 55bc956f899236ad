"""feedbot: turns a newsroom's feed into platform-specific social posts, exactly once."""

__version__ = "0.2.0.dev0"
PROJECT_URL = "https://github.com/jckmagazine/feedbot"
USER_AGENT = f"feedbot/{__version__} (+{PROJECT_URL})"

"""Alert engine: pure rules and score, message texts, the periodic job and the outbox dispatcher."""

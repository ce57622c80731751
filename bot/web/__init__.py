"""The web console for managers and admins, opened from the chat with /web."""

"""amplify."""

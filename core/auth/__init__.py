"""Users, roles, sign-in and the permission policy."""

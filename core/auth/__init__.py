"""Who is acting: users, roles, passwords, the sign-in throttle and the permission policy
(the use cases of sign-in and user administration are core/accounts/)."""

SELECT state, bool_and(likesports) AS all_like, bool_or(likesports) AS any_like FROM users GROUP BY state

SELECT upper(username) AS u, length(username) AS len, coalesce(city, '?') || '/' || coalesce(state, '?') AS place
FROM users WHERE userid <= 50

SELECT *
FROM custome

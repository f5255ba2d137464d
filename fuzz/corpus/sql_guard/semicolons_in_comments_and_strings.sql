/* nested /* comment */ ; */ -- leading ; comment
SELECT ';' AS semi, "a;b" FROM t -- ; DROP TABLE t
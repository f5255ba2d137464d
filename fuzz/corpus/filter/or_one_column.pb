J&
2
regionno


region*east
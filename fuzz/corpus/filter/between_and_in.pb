B:

ts:€òÖÊ:€•ÜÊ

region*north*south
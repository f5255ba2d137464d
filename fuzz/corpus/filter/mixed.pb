BP


temperature	! Èë…óÌá


humidityÿÿÿÿÿÿÿÿÿ


statusJ1.5
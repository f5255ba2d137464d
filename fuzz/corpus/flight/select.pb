

demosensors


	sensor_id
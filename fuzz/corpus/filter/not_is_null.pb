R"

humidity
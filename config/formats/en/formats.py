# Dates in the admin and on pages as ISO-like, 24-hour UTC: "2026-11-29 16:54" is shorter than
# "Nov. 29, 2026, 4:54 p.m." and keeps change lists within a 1280-pixel screen.
DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"

"""Device drivers for calibd: bus owners, device codecs and in-memory fakes.

Kept import-light on purpose: importing ``drivers`` (or ``drivers.base``) pulls in neither
pymodbus nor pyserial; only ``drivers.modbus_bus`` and ``drivers.serial_line`` do.
"""

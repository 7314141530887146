"""The message broker (R-NTF-6). ``contract`` says what the outbox relay needs of a broker;
``amqp`` is RabbitMQ through aio-pika — the only module of paygate that imports a broker
client (``bootstrap`` imports it when ``PAYGATE_BROKER_URL`` is set)."""

#include "fila/broker_rabbitmq/rabbitmq_broker.h"

#include "amqp_connection.h"
#include "rabbitmq_consumer.h"
#include "rabbitmq_publisher.h"

namespace fila {

namespace {

// Holds only the parsed URL: every publisher and consumer opens its own
// connection, so making them from several threads is safe.
class RabbitMqBroker final : public Broker {
 public:
  explicit RabbitMqBroker(rabbitmq::ConnectionParams params)
      : params_(std::make_shared<const rabbitmq::ConnectionParams>(std::move(params))) {}

  std::unique_ptr<Publisher> NewPublisher() override {
    return std::make_unique<rabbitmq::RabbitMqPublisher>(params_);
  }
  std::unique_ptr<Consumer> NewConsumer() override {
    return std::make_unique<rabbitmq::RabbitMqConsumer>(params_);
  }

 private:
  std::shared_ptr<const rabbitmq::ConnectionParams> params_;
};

}  // namespace

std::unique_ptr<Broker> MakeRabbitMqBroker(RabbitMqOptions options) {
  return std::make_unique<RabbitMqBroker>(rabbitmq::ParseParams(options));
}

}  // namespace fila

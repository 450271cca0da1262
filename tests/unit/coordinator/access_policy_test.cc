// The coordinator's access policy table: every method of both services has its row, and what is
// not in the table needs admin.
#include "coordinator/access_policy.h"

#include <google/protobuf/descriptor.h>

#include "cwb/v1/agent.grpc.pb.h"
#include "cwb/v1/client.grpc.pb.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

TEST(AccessPolicyTest, EveryMethodOfBothServicesHasItsRow) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name : {"cwb.v1.BuildService", "cwb.v1.AgentService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = "/" + service->full_name() + "/" + service->method(i)->name();
      const Role role = RoleForMethod(method);
      EXPECT_NE(role, Role::kAdmin) << method << " has no row (it falls to the admin default)";
      EXPECT_NE(role, Role::kPublic) << method;
      EXPECT_EQ(role == Role::kAgent, service->name() == "AgentService") << method;
    }
  }
  EXPECT_EQ(RoleForMethod("/cwb.v1.BuildService/SubmitBuild"), Role::kSubmit);
  EXPECT_EQ(RoleForMethod("/cwb.v1.BuildService/GetBuild"), Role::kRead);
  EXPECT_EQ(RoleForMethod("/grpc.health.v1.Health/Check"), Role::kPublic);
  EXPECT_EQ(RoleForMethod("/cwb.v1.BuildService/Unknown"), Role::kAdmin);
  EXPECT_EQ(RoleForMethod(""), Role::kAdmin);
}

TEST(AccessPolicyTest, EveryPageNeedsTheReadRole) {
  for (const char* path : {"/", "/index.html", "/api/builds", "/simple/", "/simple/cpu-torch2.4/demo/",
                           "/files/b/t/w.whl", "/metrics"}) {
    EXPECT_EQ(RoleForRoute(path), Role::kRead) << path;
  }
  EXPECT_EQ(RoleForRoute("no-slash"), Role::kAdmin);
}

TEST(AccessPolicyTest, OnlyMetricsCanBeOpenedAndOnlyWhenAsked) {
  const RouteOptions open{.public_metrics = true};
  EXPECT_EQ(RoleForRoute("/metrics", open), Role::kPublic);
  for (const char* path : {"/", "/api/builds", "/simple/", "/files/b/t/w.whl", "/metrics/x", "/metricsx"}) {
    EXPECT_EQ(RoleForRoute(path, open), Role::kRead) << path;
  }
}

}  // namespace
}  // namespace cwb

// db_errno_test.cc: the one table that classes MariaDB and Connector/C error numbers
// (store/db.h ClassifyErrno), and which errno a failed prepared statement is classed by.
// Numbers are written out rather than taken from mysqld_error.h, so that a renumbered or
// misspelt constant in the table is caught.
#include <gtest/gtest.h>

#include "store/db.h"

namespace certpress::store {
namespace {

TEST(DbErrnoTest, GaleraTransientErrorsAreRetried) {
  EXPECT_EQ(ClassifyErrno(1213), ErrnoClass::kRetry);  // deadlock, certification failure
  EXPECT_EQ(ClassifyErrno(1205), ErrnoClass::kRetry);  // lock wait timeout
  EXPECT_EQ(ClassifyErrno(1317), ErrnoClass::kRetry);  // query interrupted
  // Outside the primary component: retried on a new connection, possibly another node.
  EXPECT_EQ(ClassifyErrno(1047), ErrnoClass::kReconnect);
  EXPECT_EQ(ClassifyErrno(1180), ErrnoClass::kReconnect);
}

TEST(DbErrnoTest, ALostLinkIsRetriedOnANewConnection) {
  for (unsigned err : {2002u, 2003u, 2006u, 2013u, 2055u, 1927u, 4031u}) {
    EXPECT_EQ(ClassifyErrno(err), ErrnoClass::kReconnect) << err;
  }
}

TEST(DbErrnoTest, OtherErrorsAreFatal) {
  for (unsigned err : {0u, 1062u /* duplicate */, 1064u /* syntax */, 1146u /* no table */,
                       1419u /* trigger needs SUPER */, 1045u /* access denied */}) {
    EXPECT_EQ(ClassifyErrno(err), ErrnoClass::kFatal) << err;
  }
}

// Galera aborts a claim's SELECT ... FOR UPDATE while its rows are fetched: the statement's
// errno is 0 and the deadlock is only in the connection's. Classed by the statement's alone, a
// retryable deadlock was fatal ("MariaDB error 0 (00000)").
TEST(DbErrnoTest, AStatementWithoutErrnoIsClassedByItsConnection) {
  EXPECT_EQ(StatementErrno(0, 1213), 1213u);
  EXPECT_EQ(ClassifyErrno(StatementErrno(0, 1213)), ErrnoClass::kRetry);
  EXPECT_EQ(StatementErrno(1062, 1213), 1062u);  // the statement's own error wins
  EXPECT_EQ(StatementErrno(0, 0), 0u);
}

TEST(DbErrnoTest, DbHostsAreSplitOnSpacesAndCommas) {
  EXPECT_EQ(ParseNodes("/a/n1.sock /a/n2.sock,db3:3307  "),
            (std::vector<std::string>{"/a/n1.sock", "/a/n2.sock", "db3:3307"}));
  EXPECT_TRUE(ParseNodes("  ").empty());
}

}  // namespace
}  // namespace certpress::store

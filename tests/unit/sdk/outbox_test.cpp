// The relay's write side without a socket: frames are written to a fake one that takes as many
// bytes as the test allows. Each frame here is a line, so what was written reads back as lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "exosphere/status.hpp"
#include "sdk/outbox.hpp"

using exosphere::Error;
using exosphere::Status;
using exosphere::sdk::Outbox;
using Kind = Outbox::Kind;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// One connection's socket: takes at most `room` more bytes, then is full (EAGAIN).
struct FakeSocket {
  std::mutex mutex;
  std::string written;
  size_t room = SIZE_MAX;

  Outbox::Writer writer() {
    return [this](const iovec* iov, int count) -> ssize_t {
      std::lock_guard lock(mutex);
      size_t took = 0;
      for (int i = 0; i < count && room > 0; ++i) {
        size_t n = std::min(room, iov[i].iov_len);
        written.append(static_cast<const char*>(iov[i].iov_base), n);
        room -= n;
        took += n;
      }
      if (took == 0) {
        errno = EAGAIN;
        return -1;
      }
      return static_cast<ssize_t>(took);
    };
  }
  void set_room(size_t bytes) {
    std::lock_guard lock(mutex);
    room = bytes;
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    std::istringstream in(written);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

using Lines = std::vector<std::string>;

// A frame of exactly ten bytes: "<name>" padded with dots, and a newline.
std::string frame(const std::string& name) { return name + std::string(9 - name.size(), '.') + "\n"; }
std::string line(const std::string& name) { return name + std::string(9 - name.size(), '.'); }

Status status_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.status();
  }
  return Status::ok;
}

}  // namespace

TEST(Outbox, BusyIsAStatusOfItsOwn) { EXPECT_STREQ(exosphere::to_string(Status::busy), "busy"); }

// Defect 1: while connected nothing was bounded; now what ExoCom has not accepted is.
TEST(Outbox, AMessageThatDoesNotFitWhileConnectedWaitsThenIsBusy) {
  Outbox outbox(30, 100ms, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));  // written, not accepted: 30 bytes
  auto start = Clock::now();
  EXPECT_EQ(status_of([&] { outbox.send(frame("m4")); }), Status::busy);
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_EQ(socket.lines(), (Lines{line("reg"), line("m1"), line("m2"), line("m3")}));
}

TEST(Outbox, AReceiptMakesRoomForAWaitingMessage) {
  Outbox outbox(30, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  auto sent = std::async(std::launch::async, [&] { outbox.send(frame("m4")); });
  EXPECT_EQ(sent.wait_for(100ms), std::future_status::timeout);  // it waits for room
  EXPECT_EQ(socket.lines().size(), 4u);
  outbox.accepted(1);
  ASSERT_EQ(sent.wait_for(5s), std::future_status::ready);
  sent.get();
  EXPECT_EQ(socket.lines(), (Lines{line("reg"), line("m1"), line("m2"), line("m3"), line("m4")}));
}

// The old outbox dropped the oldest kept messages past the bound (never to be sent again).
TEST(Outbox, WhatIsNotAcceptedIsNeverDropped) {
  Outbox outbox(30, 50ms, "test");
  FakeSocket first;
  outbox.connected(first.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  EXPECT_EQ(status_of([&] { outbox.send(frame("m4")); }), Status::busy);
  outbox.disconnected();
  FakeSocket second;
  outbox.connected(second.writer(), frame("reg2"), true);
  EXPECT_EQ(second.lines(), (Lines{line("reg2"), line("m1"), line("m2"), line("m3")}));
  outbox.accepted(1);  // counts the messages of this connection
  outbox.send(frame("m5"));
  EXPECT_EQ(second.lines().back(), line("m5"));
  EXPECT_EQ(outbox.shut(), 3u);
}

// Without receipts a message is ExoCom's once written: the bound covers what waits for the socket.
TEST(Outbox, WithoutReceiptsTheBoundCoversWhatTheSocketHasNotTaken) {
  Outbox outbox(30, 50ms, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), false);
  socket.set_room(0);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  EXPECT_EQ(status_of([&] { outbox.send(frame("m4")); }), Status::busy);
  socket.set_room(SIZE_MAX);
  outbox.flush();
  EXPECT_TRUE(outbox.finished());
  outbox.send(frame("m4"));
  EXPECT_EQ(socket.lines(), (Lines{line("reg"), line("m1"), line("m2"), line("m3"), line("m4")}));
}

TEST(Outbox, DisconnectedAndFullFailsAtOnce) {
  Outbox outbox(30, 10s, "test");
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  auto start = Clock::now();
  EXPECT_EQ(status_of([&] { outbox.send(frame("m4")); }), Status::not_connected);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(Outbox, KeptMessagesCountAgainstTheBoundWhileDisconnected) {
  Outbox outbox(30, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2"}) outbox.send(frame(name));
  outbox.disconnected();
  outbox.send(frame("m3"));
  EXPECT_EQ(status_of([&] { outbox.send(frame("m4")); }), Status::not_connected);
}

TEST(Outbox, ALostConnectionFailsAWaitingMessageAsNotConnected) {
  Outbox outbox(30, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  auto sent = std::async(std::launch::async, [&] { return status_of([&] { outbox.send(frame("m4")); }); });
  EXPECT_EQ(sent.wait_for(50ms), std::future_status::timeout);
  outbox.disconnected();
  ASSERT_EQ(sent.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(sent.get(), Status::not_connected);
}

TEST(Outbox, AMessageLargerThanTheBoundFailsWithoutWaiting) {
  Outbox outbox(5, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  auto start = Clock::now();
  EXPECT_EQ(status_of([&] { outbox.send(frame("big")); }), Status::busy);
  EXPECT_LT(Clock::now() - start, 1s);
}

// What the I/O thread writes (a health check's answer, receipts, pongs) never waits.
TEST(Outbox, AnswersAndControlFramesNeverWait) {
  Outbox outbox(30, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  auto start = Clock::now();
  outbox.send(frame("ok"), Kind::answer);
  outbox.send(frame("rcv"), Kind::control);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(socket.lines().back(), line("rcv"));
}

// Defect 2: the old outbox sent the receipts and pongs of a lost connection on the next one.
TEST(Outbox, ControlFramesOfALostConnectionAreNotSentOnTheNext) {
  Outbox outbox(1000, 10s, "test");
  FakeSocket first;
  outbox.connected(first.writer(), frame("reg"), true);
  first.set_room(0);
  outbox.send(frame("rcv"), Kind::control);
  outbox.send(frame("m1"));
  outbox.send(frame("ok"), Kind::answer);
  outbox.send(frame("pong"), Kind::control);
  outbox.disconnected();
  FakeSocket second;
  outbox.connected(second.writer(), frame("reg2"), true);
  EXPECT_EQ(second.lines(), (Lines{line("reg2"), line("m1"), line("ok")}));
}

TEST(Outbox, OnANewConnectionTheUnacceptedGoFirstThenTheWaiting) {
  Outbox outbox(1000, 10s, "test");
  FakeSocket first;
  outbox.connected(first.writer(), frame("reg"), true);
  outbox.send(frame("m1"));
  outbox.send(frame("m2"));
  outbox.accepted(1);  // m1 is ExoCom's
  first.set_room(0);
  outbox.send(frame("m3"));
  outbox.disconnected();
  outbox.send(frame("m4"));
  FakeSocket second;
  outbox.connected(second.writer(), frame("reg2"), true);
  EXPECT_EQ(second.lines(), (Lines{line("reg2"), line("m2"), line("m3"), line("m4")}));
}

TEST(Outbox, AFrameCutOffMidWriteIsSentAgainWholeUnlessItWasAControlFrame) {
  Outbox outbox(1000, 10s, "test");
  FakeSocket first;
  outbox.connected(first.writer(), frame("reg"), true);
  first.set_room(3);
  outbox.send(frame("rcv"), Kind::control);  // cut after three bytes
  first.set_room(0);
  outbox.send(frame("m1"));
  outbox.disconnected();
  FakeSocket second;
  outbox.connected(second.writer(), frame("reg2"), true);
  EXPECT_EQ(second.lines(), (Lines{line("reg2"), line("m1")}));

  second.set_room(4);
  outbox.send(frame("m2"));  // cut after four bytes
  outbox.disconnected();
  FakeSocket third;
  outbox.connected(third.writer(), frame("reg3"), true);
  EXPECT_EQ(third.lines(), (Lines{line("reg3"), line("m1"), line("m2")}));
}

TEST(Outbox, NothingFollowsTheCloseFrame) {
  Outbox outbox(1000, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  outbox.close(frame("close"));
  EXPECT_EQ(status_of([&] { outbox.send(frame("m1")); }), Status::closed);
  EXPECT_FALSE(outbox.send(frame("rcv"), Kind::control));
  EXPECT_EQ(socket.lines(), (Lines{line("reg"), line("close")}));
}

TEST(Outbox, TheCloseFrameFailsAWaitingMessageAsClosed) {
  Outbox outbox(30, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  for (auto name : {"m1", "m2", "m3"}) outbox.send(frame(name));
  auto sent = std::async(std::launch::async, [&] { return status_of([&] { outbox.send(frame("m4")); }); });
  EXPECT_EQ(sent.wait_for(50ms), std::future_status::timeout);
  outbox.close(frame("close"));
  ASSERT_EQ(sent.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(sent.get(), Status::closed);
  EXPECT_EQ(socket.lines().back(), line("close"));
}

TEST(Outbox, WithoutReceiptsNothingIsKept) {
  Outbox outbox(1000, 10s, "test");
  FakeSocket first;
  outbox.connected(first.writer(), frame("reg"), false);
  outbox.send(frame("m1"));
  EXPECT_TRUE(outbox.finished());
  outbox.disconnected();
  FakeSocket second;
  outbox.connected(second.writer(), frame("reg2"), true);
  outbox.send(frame("m2"));
  EXPECT_FALSE(outbox.finished());
  outbox.no_receipts();  // an ExoCom that gives none
  EXPECT_TRUE(outbox.finished());
  EXPECT_EQ(outbox.shut(), 0u);
  EXPECT_EQ(second.lines(), (Lines{line("reg2"), line("m2")}));
}

TEST(Outbox, ShutCountsTheMessagesNotInExoComsKeeping) {
  Outbox outbox(1000, 10s, "test");
  FakeSocket socket;
  outbox.connected(socket.writer(), frame("reg"), true);
  outbox.send(frame("m1"));  // kept
  socket.set_room(0);
  outbox.send(frame("m2"));  // waiting
  outbox.send(frame("rcv"), Kind::control);
  EXPECT_TRUE(outbox.waiting());
  EXPECT_EQ(outbox.shut(), 2u);
}

// A node of an ExoCom cluster, over NATS. Subjects, with <p> the cluster name:
//   <p>.presence        every node, every heartbeat and whenever its instances change: its name,
//                       boot id, routes fingerprint and instances ({key, role, epoch}); "bye" on exit
//   <p>.hello           a starting node asks (request/reply) who is there; any node asked without a
//                       reply subject announces itself at once (a node back from a NATS outage)
//   <p>.node.<name>     what other nodes send one node: deliveries to its instances, receipts and
//                       deliveries given back, forwarded security messages; batched (one NATS
//                       message per node per batch of the I/O loop)
// A delivery stays in the custody of the node that sent it until the receiving node confirms it
// reached its instance; given back, or sent to a node that went away, it is routed again there.
// NATS callbacks run on one cnats thread; everything they bring is handed to the I/O loop, where
// the broker lives, so the broker stays single-threaded.
#include "exocom/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <nats/nats.h>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "exocom/broker.hpp"
#include "exocom/held_store.hpp"
#include "exocom/trace_log.hpp"

namespace exo::exocom {

namespace asio = boost::asio;

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

namespace {

// Fields of a batch: "<length>:<bytes>," (netstrings), so any bytes can travel.
void put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ',';
}

bool take(std::string_view& in, std::string_view& field) {
  size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 9) return false;
  size_t length = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    length = length * 10 + static_cast<size_t>(in[i] - '0');
  }
  if (in.size() < colon + 1 + length + 1 || in[colon + 1 + length] != ',') return false;
  field = in.substr(colon + 1, length);
  in.remove_prefix(colon + 1 + length + 1);
  return true;
}

std::string nats_error(natsStatus s) { return natsStatus_GetText(s); }

bool number(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

struct Cluster::Impl {
  struct Node {
    std::string name, boot;
    Clock::time_point heard;
    bool alive = false;
    size_t instances = 0;
    std::map<uint64_t, Returned> inflight;  // sent to it, not yet confirmed, by our number
    // Deliveries waiting for room in its window (kDeliveryWindow), in order: the record and the delivery.
    std::deque<std::pair<std::string, Returned>> waiting;
    std::vector<uint64_t> confirmations, given_back;  // its numbers, to tell it with the next batch
  };
  // What the cnats thread hands to the I/O loop.
  struct Incoming {
    enum class Kind { presence, batch, hello, disconnected, reconnected } kind;
    std::string data, reply;
  };

  ClusterOptions options;
  Broker& broker;
  TraceLog& log;
  asio::io_context& io;
  std::string prefix;
  // This run of the node: its start time first, so the older of two runs with one name sorts first.
  std::string boot = fmt::format("{:016x}-{}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch()).count(),
                                 random_hex(8));
  std::function<void(const std::string&)> fatal;
  std::string routes;
  natsConnection* nc = nullptr;
  natsSubscription* presence_sub = nullptr;
  natsSubscription* node_sub = nullptr;
  natsSubscription* hello_sub = nullptr;
  std::vector<Node> nodes;  // [0] is this node
  std::unordered_map<std::string, NodeIndex> by_name;
  std::vector<std::string> outgoing;  // per node: the batch being filled
  bool flush_posted = false;
  std::mutex inbox_mutex;
  std::deque<Incoming> inbox;
  bool drain_posted = false;
  std::atomic<bool> nats_up{false};
  uint64_t nats_disconnects = 0;
  std::map<std::string, uint64_t> dropped;  // packets from the cluster subjects, by reason
  std::map<std::string, bool> warned;       // once per node and reason
  asio::steady_timer ticker{io};
  // Confirmations wait a little for a batch going the same way (a reply, typically) to ride on.
  static constexpr auto kConfirmWithin = std::chrono::milliseconds(2);
  static constexpr size_t kConfirmAtOnce = kDeliveryWindow / 4;
  asio::steady_timer confirm_timer{io};
  bool confirm_timer_set = false;
  unsigned ticks = 0;
  std::thread beats;
  std::mutex beat_mutex;
  std::condition_variable beat_cv;
  bool beats_stop = false;
  bool left = false;
  size_t max_payload = 1 << 20;
  std::unique_ptr<HeldStore> store;  // when NATS has JetStream

  Impl(ClusterOptions o, Broker& b, TraceLog& l, asio::io_context& i)
      : options(std::move(o)), broker(b), log(l), io(i), prefix(options.name + ".") {
    add_node(options.node, boot).alive = true;
    by_name[options.node] = kThisNode;
  }

  Node& add_node(const std::string& name, const std::string& node_boot) {
    Node& n = nodes.emplace_back();
    n.name = name;
    n.boot = node_boot;
    n.heard = Clock::now();
    outgoing.emplace_back();
    return n;
  }

  ~Impl() {
    stop_beats();
    if (store) store->settle();
    close_nats();
    store.reset();
    for (auto* sub : {presence_sub, node_sub, hello_sub})
      if (sub) natsSubscription_Destroy(sub);
    if (nc) natsConnection_Destroy(nc);
  }

  // cnats calls back from its own threads, even after natsConnection_Destroy returns: this waits
  // until its last callback into this object (the closed callback, each subscription's completion).
  std::mutex closing_mutex;
  std::condition_variable closing_cv;
  bool nats_closed = false;
  int subs_open = 0;

  void close_nats() {
    if (!nc) return;
    natsConnection_Close(nc);
    std::unique_lock lock(closing_mutex);
    closing_cv.wait_for(lock, std::chrono::seconds(5), [&] { return nats_closed && subs_open == 0; });
  }

  static void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    std::lock_guard lock(self->closing_mutex);
    self->nats_closed = true;
    self->closing_cv.notify_all();
  }

  static void on_sub_complete(void* closure) {
    auto* self = static_cast<Impl*>(closure);
    std::lock_guard lock(self->closing_mutex);
    --self->subs_open;
    self->closing_cv.notify_all();
  }

  // --- from the cnats thread ----------------------------------------------------------------

  static void on_message(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    Incoming in;
    in.kind = sub == self->presence_sub ? Incoming::Kind::presence
              : sub == self->hello_sub  ? Incoming::Kind::hello
                                        : Incoming::Kind::batch;
    in.data.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    if (const char* reply = natsMsg_GetReply(msg)) in.reply = reply;
    natsMsg_Destroy(msg);
    self->hand_over(std::move(in));
  }

  static void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    self->nats_up = false;
    if (!natsConnection_IsClosed(self->nc)) self->hand_over({Incoming::Kind::disconnected, {}, {}});
  }

  static void on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    self->nats_up = true;
    self->hand_over({Incoming::Kind::reconnected, {}, {}});
  }

  void hand_over(Incoming in) {
    bool post;
    {
      std::lock_guard lock(inbox_mutex);
      inbox.push_back(std::move(in));
      post = !drain_posted;
      drain_posted = true;
    }
    if (post) asio::post(io, [this] { drain(); });
  }

  // --- on the I/O loop ----------------------------------------------------------------------

  // A few packets per turn, so the connections of this node are served between them (a node
  // that falls behind would otherwise read its clients, and their receipts, only now and then).
  static constexpr size_t kPacketsPerTurn = 16;

  void drain() {
    std::vector<Incoming> batch;
    bool more;
    {
      std::lock_guard lock(inbox_mutex);
      while (!inbox.empty() && batch.size() < kPacketsPerTurn) {
        batch.push_back(std::move(inbox.front()));
        inbox.pop_front();
      }
      more = !inbox.empty();
      drain_posted = more;
    }
    if (more) asio::post(io, [this] { drain(); });
    for (auto& in : batch) {
      switch (in.kind) {
        case Incoming::Kind::presence: presence(in.data); break;
        case Incoming::Kind::hello: hello(in.data, in.reply); break;
        case Incoming::Kind::batch: receive(in.data); break;
        case Incoming::Kind::disconnected: lost_nats(); break;
        case Incoming::Kind::reconnected: back_on_nats(); break;
      }
    }
    log.flush();
  }

  void drop(const std::string& reason) { dropped[reason]++; }

  std::string routes_differ(const std::string& node, const std::string& theirs) const {
    return "this node's routes differ from those of the cluster '" + options.name + "' (node '" + node +
           "' has routes " + theirs + ", this node " + routes + "); start every node with the same routing table";
  }

  // A node is gone for good (it left, or fell silent): the first alive node by name takes over
  // the messages it held in JetStream.
  void bury(NodeIndex i) {
    reclaim(i);
    if (!store) return;
    for (NodeIndex j = 1; j < nodes.size(); ++j)
      if (nodes[j].alive && nodes[j].name < options.node) return;  // theirs to take
    store->adopt(nodes[i].name, nodes[i].boot);
  }

  // A node went away or lost us: what it had not confirmed is routed again.
  void reclaim(NodeIndex i) {
    Node& node = nodes[i];
    std::vector<Returned> back;
    for (auto& [seq, r] : node.inflight) back.push_back(std::move(r));
    for (auto& [record, r] : node.waiting) back.push_back(std::move(r));
    node.inflight.clear();
    node.waiting.clear();
    node.confirmations.clear();
    node.given_back.clear();
    broker.node_gone(i);
    if (!back.empty()) broker.returned(i, std::move(back));
  }

  void warn_once(const std::string& key, const std::string& text) {
    if (warned[key]) return;
    warned[key] = true;
    log.warning(text);
  }

  NodeIndex index_of(const std::string& name, const std::string& node_boot) {
    auto it = by_name.find(name);
    if (it != by_name.end()) {
      Node& known = nodes[it->second];
      if (known.boot != node_boot) {
        // The same name, another run: whatever the earlier one had is gone.
        if (known.alive) log.info("ExoCom node '" + name + "' restarted");
        known.alive = false;
        reclaim(it->second);
        known.boot = node_boot;
      }
      return it->second;
    }
    auto index = static_cast<NodeIndex>(nodes.size());
    add_node(name, node_boot);
    by_name[name] = index;
    return index;
  }

  std::string presence_json(bool bye = false) const {
    json::object o{{"node", options.node}, {"boot", boot}, {"routes", routes},
                   {"heartbeat", options.heartbeat.count()}};
    if (bye) {
      o["bye"] = true;
    } else {
      json::array list;
      for (const auto& i : broker.local_instances()) list.push_back(json::array{i.key, i.role, i.epoch});
      o["instances"] = std::move(list);
    }
    return to_json(o);
  }

  void announce() {
    if (!nc || left) return;
    std::string text = presence_json();
    natsConnection_Publish(nc, (prefix + "presence").c_str(), text.data(), static_cast<int>(text.size()));
  }

  // A node's announcement; false when it is not one of ours (routes, name).
  bool presence(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    std::string name = o ? string_at(*o, "node") : "", node_boot = o ? string_at(*o, "boot") : "";
    if (!o || !valid_node_name(name) || node_boot.empty()) {
      drop("malformed-presence");
      return false;
    }
    if (name == options.node) {
      if (node_boot == boot) return false;
      // Two runs with one name (they started at the same moment, or met after a split): the
      // younger one leaves.
      if (node_boot < boot && fatal) {
        fatal("the node name '" + name + "' is taken in cluster '" + options.name +
              "'; give this node another one with --node-name");
      } else {
        warn_once("name:" + node_boot, "Another ExoCom node announces itself as '" + name +
                                           "' on this cluster; give each node a name of its own (--node-name)");
      }
      return false;
    }
    if (std::string theirs = string_at(*o, "routes"); theirs != routes) {
      drop("routes-differ");
      // The younger of the two leaves, as it would have at its join had it heard the other then.
      if (node_boot < boot && fatal)
        fatal(routes_differ(name, theirs));
      else
        warn_once("routes:" + name, "ExoCom node '" + name + "' routes differently from this one; ignoring it");
      return false;
    }
    NodeIndex index = index_of(name, node_boot);
    Node& node = nodes[index];
    if (const auto* beat = o->if_contains("beat"); beat && beat->is_bool() && beat->get_bool()) {
      // Alive; what it has comes with its announcements.
      if (node.alive) node.heard = Clock::now();
      return true;
    }
    if (const auto* bye = o->if_contains("bye"); bye && bye->is_bool() && bye->get_bool()) {
      if (node.alive) log.info("ExoCom node '" + name + "' left the cluster");
      node.alive = false;
      bury(index);
      return true;
    }
    std::vector<InstanceInfo> instances;
    if (const auto* list = o->if_contains("instances"); list && list->is_array()) {
      for (const auto& item : list->get_array()) {
        const auto* a = item.if_array();
        if (!a || a->size() != 3 || !(*a)[0].is_string() || !(*a)[1].is_string() || !(*a)[2].is_number()) {
          drop("malformed-presence");
          return false;
        }
        boost::system::error_code nec;
        auto epoch = (*a)[2].to_number<uint64_t>(nec);
        instances.push_back({std::string((*a)[0].get_string()), std::string((*a)[1].get_string()), nec ? 0 : epoch});
      }
    }
    if (!node.alive) log.info("ExoCom node '" + name + "' joined the cluster");
    node.alive = true;
    node.heard = Clock::now();
    node.instances = instances.size();
    broker.remote_instances(index, instances);
    return true;
  }

  void hello(const std::string& text, const std::string& reply) {
    presence(text);
    if (reply.empty()) return announce();
    std::string mine = presence_json();
    natsConnection_Publish(nc, reply.c_str(), mine.data(), static_cast<int>(mine.size()));
  }

  void stop_beats() {
    {
      std::lock_guard lock(beat_mutex);
      beats_stop = true;
    }
    beat_cv.notify_all();
    if (beats.joinable()) beats.join();
  }

  // A batch another node sent this one.
  void receive(std::string_view in) {
    std::string_view from, from_boot;
    if (!take(in, from) || !take(in, from_boot)) return drop("malformed-batch");
    auto it = by_name.find(std::string(from));
    if (it == by_name.end() || it->second == kThisNode || nodes[it->second].boot != from_boot)
      return drop("unknown-node");
    NodeIndex node = it->second;
    if (!nodes[node].alive) {
      // Taken for gone, yet here it is: alive again; its announcement (asked for now) says what it has.
      log.info("ExoCom node '" + nodes[node].name + "' is back");
      nodes[node].alive = true;
      std::string mine = presence_json();
      natsConnection_Publish(nc, (prefix + "hello").c_str(), mine.data(), static_cast<int>(mine.size()));
    }
    nodes[node].heard = Clock::now();
    while (!in.empty()) {
      std::string_view kind;
      if (!take(in, kind)) return drop("malformed-batch");
      if (kind == "D") {
        std::string_view f[7];
        for (auto& field : f)
          if (!take(in, field)) return drop("malformed-batch");
        uint64_t seq;
        if (!number(f[5], seq)) return drop("malformed-batch");
        Hop hop{f[0], f[1], f[2], f[3], f[4], seq};
        if (!broker.may_receive(hop, f[6])) {
          drop("forged-delivery");
          continue;
        }
        broker.remote_delivery(node, hop, f[6]);
      } else if (kind == "C" || kind == "N") {
        std::string_view list;
        if (!take(in, list)) return drop("malformed-batch");
        std::vector<Returned> back;
        std::vector<uint64_t> settled;
        for (std::string_view rest = list; !rest.empty();) {
          size_t comma = rest.find(' ');
          std::string_view item = rest.substr(0, comma);
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
          uint64_t seq;
          if (!number(item, seq)) return drop("malformed-batch");
          auto it = nodes[node].inflight.find(seq);
          if (it == nodes[node].inflight.end()) continue;  // already reclaimed
          if (kind == "N") back.push_back(std::move(it->second));
          else settled.push_back(seq);
          nodes[node].inflight.erase(it);
        }
        release(node);
        if (!back.empty()) broker.returned(node, std::move(back));
        if (!settled.empty()) broker.confirmed(node, settled);
      } else if (kind == "F") {
        std::string_view which, text;
        if (!take(in, which) || !take(in, text) || which.size() != 1 ||
            (which[0] != static_cast<char>(Forward::verdict) && which[0] != static_cast<char>(Forward::answer)))
          return drop("malformed-batch");
        broker.remote_forward(node, static_cast<Forward>(which[0]), text);
      } else {
        return drop("malformed-batch");
      }
    }
  }

  void lost_nats() {
    ++nats_disconnects;
    log.error("lost the connection to NATS; routing only to the instances connected to this node until it is back "
              "(messages for the others are held here)");
    for (NodeIndex i = 1; i < nodes.size(); ++i) {
      if (!nodes[i].alive) continue;
      nodes[i].alive = false;
      reclaim(i);
    }
  }

  void back_on_nats() {
    log.info("connected to NATS again; asking the other nodes what they have");
    announce();
    std::string mine = presence_json();
    natsConnection_Publish(nc, (prefix + "hello").c_str(), mine.data(), static_cast<int>(mine.size()));
  }

  // Heartbeats come from a thread of their own, so a node busy routing still beats on time (a
  // busy node taken for dead is the classic failure of gossiping buses).
  void beat() {
    std::string text = to_json(json::object{{"node", options.node}, {"boot", boot}, {"routes", routes}, {"beat", true}});
    std::unique_lock lock(beat_mutex);
    while (!beat_cv.wait_for(lock, options.heartbeat, [&] { return beats_stop; }))
      natsConnection_Publish(nc, (prefix + "presence").c_str(), text.data(), static_cast<int>(text.size()));
  }

  // On the loop: every heartbeat a full announcement of the instances (they are also announced at
  // every change), and nodes not heard from for two heartbeats are forgotten.
  void tick() {
    ticker.expires_after(options.heartbeat / 4);
    ticker.async_wait([this](const boost::system::error_code& ec) {
      if (ec || left) return;
      if (++ticks % 4 == 0) announce();
      auto now = Clock::now();
      bool behind;
      {
        std::lock_guard lock(inbox_mutex);
        behind = !inbox.empty();
      }
      // Behind on what arrived, this node cannot tell a silent node from its own backlog: it waits.
      for (NodeIndex i = 1; i < nodes.size() && !behind; ++i) {
        if (!nodes[i].alive || now - nodes[i].heard <= 2 * options.heartbeat) continue;
        nodes[i].alive = false;
        log.warning("ExoCom node '" + nodes[i].name + "' fell silent; its instances are gone");
        bury(i);
      }
      log.flush();
      tick();
    });
  }

  void schedule_flush() {
    if (flush_posted) return;
    flush_posted = true;
    // Posted: everything the current batch of work sends to one node leaves in one NATS message.
    asio::post(io, [this] {
      flush_posted = false;
      flush();
    });
  }

  void flush() {
    for (NodeIndex i = 1; i < outgoing.size(); ++i) send_batch(i);
  }

  void send_batch(NodeIndex i) {
    std::string& batch = outgoing[i];
    for (auto* list : {&nodes[i].confirmations, &nodes[i].given_back}) {
      if (list->empty()) continue;
      std::string numbers;
      for (uint64_t seq : *list) numbers += (numbers.empty() ? "" : " ") + std::to_string(seq);
      put(batch, list == &nodes[i].confirmations ? "C" : "N");
      put(batch, numbers);
      list->clear();
    }
    if (batch.empty()) return;
    std::string packet;
    packet.reserve(batch.size() + 64);
    put(packet, options.node);
    put(packet, boot);
    packet += batch;
    batch.clear();
    natsStatus s = natsConnection_Publish(nc, (prefix + "node." + nodes[i].name).c_str(), packet.data(),
                                          static_cast<int>(packet.size()));
    if (s != NATS_OK) drop("publish-failed");
  }

  // Sends what waited for room in the node's window.
  void release(NodeIndex i) {
    Node& node = nodes[i];
    while (!node.waiting.empty() && node.inflight.size() < kDeliveryWindow) {
      auto [record, r] = std::move(node.waiting.front());
      node.waiting.pop_front();
      append(i, std::move(record));
      node.inflight.emplace(r.seq, std::move(r));
    }
  }

  // Whether a record fits in a NATS message (with the batch's own fields); says so when not.
  bool fits(const std::string& record) {
    if (record.size() + 200 <= max_payload) return true;
    drop("too-big-for-nats");
    log.warning(fmt::format("a message of {} bytes is too big for NATS (max_payload {} bytes); dropped", record.size(),
                            max_payload));
    return false;
  }

  void append(NodeIndex node, std::string record) {
    if (node == kThisNode || node >= nodes.size()) bug("a delivery to an unknown node", __FILE__, __LINE__);
    if (outgoing[node].size() + record.size() + 200 > max_payload) send_batch(node);
    outgoing[node] += record;
    schedule_flush();
  }
};

Cluster::Cluster(ClusterOptions options, Broker& broker, TraceLog& log, asio::io_context& io)
    : impl_(std::make_unique<Impl>(std::move(options), broker, log, io)) {
  if (!valid_node_name(impl_->options.node))
    throw UserError("--node-name '" + impl_->options.node + "' is not a valid node name; use letters, digits, '.', '_' and '-'");
  if (!valid_node_name(impl_->options.name))
    throw UserError("--cluster-name '" + impl_->options.name + "' is not valid; use letters, digits, '.', '_' and '-'");
  impl_->routes = broker.routes_fingerprint();
  broker.join(*this);
}

Cluster::~Cluster() = default;

void Cluster::join() {
  auto& s = *impl_;
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::vector<const char*> urls;
  for (const auto& u : s.options.urls) urls.push_back(u.c_str());
  natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetName(opts, ("exocom " + s.options.node).c_str());
  natsOptions_SetTimeout(opts, 1000);
  natsOptions_SetAllowReconnect(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 200);
  // A NATS server that dies without closing the connection is noticed within two heartbeats.
  natsOptions_SetPingInterval(opts, s.options.heartbeat.count());
  natsOptions_SetMaxPingsOut(opts, 2);
  natsOptions_UseGlobalMessageDelivery(opts, true);  // one thread: what arrives keeps its order
  natsOptions_SetSendAsap(opts, true);               // batches are made here, per loop iteration
  natsOptions_SetDisconnectedCB(opts, &Impl::on_disconnected, &s);
  natsOptions_SetReconnectedCB(opts, &Impl::on_reconnected, &s);
  natsOptions_SetClosedCB(opts, &Impl::on_closed, &s);
  auto deadline = Clock::now() + s.options.connect_timeout;
  natsStatus status;
  while ((status = natsConnection_Connect(&s.nc, opts)) != NATS_OK && Clock::now() < deadline)
    usleep(200'000);
  natsOptions_Destroy(opts);
  if (status != NATS_OK)
    throw UserError(fmt::format("cannot reach NATS at {} ({}) within {}s; start nats-server there or fix --cluster",
                                exo::join(s.options.urls, ","), nats_error(status),
                                std::chrono::duration_cast<std::chrono::seconds>(s.options.connect_timeout).count()));
  s.nats_up = true;
  s.max_payload = static_cast<size_t>(std::max<int64_t>(natsConnection_GetMaxPayload(s.nc), 4096));

  // Who is there already: every node answers with its announcement.
  natsInbox* inbox = nullptr;
  natsInbox_Create(&inbox);
  natsSubscription* answers = nullptr;
  natsConnection_SubscribeSync(&answers, s.nc, inbox);
  std::string mine = s.presence_json();
  natsConnection_PublishRequest(s.nc, (s.prefix + "hello").c_str(), inbox, mine.data(), static_cast<int>(mine.size()));
  std::vector<std::string> others;
  auto until = Clock::now() + s.options.join_wait;
  while (Clock::now() < until) {
    natsMsg* msg = nullptr;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (natsSubscription_NextMsg(&msg, answers, std::max<int64_t>(left, 1)) != NATS_OK) break;
    others.emplace_back(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
  }
  natsSubscription_Destroy(answers);
  natsInbox_Destroy(inbox);
  for (const auto& text : others) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    if (!o) continue;
    std::string name = string_at(*o, "node"), theirs = string_at(*o, "routes");
    if (name == s.options.node && string_at(*o, "boot") != s.boot)
      throw UserError("the node name '" + name + "' is taken in cluster '" + s.options.name +
                      "'; give this node another one with --node-name");
    if (theirs != s.routes) throw UserError(s.routes_differ(name, theirs));
  }
  auto subscribe = [&](natsSubscription** sub, const std::string& subject) {
    natsStatus st = natsConnection_Subscribe(sub, s.nc, subject.c_str(), &Impl::on_message, &s);
    if (st != NATS_OK) throw UserError("cannot subscribe to " + subject + " on NATS: " + nats_error(st));
    {
      std::lock_guard lock(s.closing_mutex);
      ++s.subs_open;
    }
    natsSubscription_SetOnCompleteCB(*sub, &Impl::on_sub_complete, &s);
    natsSubscription_SetPendingLimits(*sub, -1, -1);
  };
  subscribe(&s.presence_sub, s.prefix + "presence");
  subscribe(&s.hello_sub, s.prefix + "hello");
  subscribe(&s.node_sub, s.prefix + "node." + s.options.node);
  natsConnection_FlushTimeout(s.nc, 2000);
  for (auto& text : others) s.hand_over({Impl::Incoming::Kind::presence, std::move(text), {}});

  // Held messages go to JetStream when the server has it; what this node's previous run held
  // there is taken over.
  std::string why;
  HeldStore::Events events;
  events.stored = [&s](uint64_t key) { s.broker.held_stored(key); };
  events.not_stored = [&s](uint64_t key) {
    s.warn_once("not-stored", "JetStream did not take a held message; it is held in this node's memory only");
    s.broker.held_stored(key);
  };
  events.adopted = [&s](std::vector<HeldCopy> copies) { s.broker.adopted(std::move(copies)); };
  s.store = HeldStore::open(s.nc, s.options.name, s.options.node, s.options.held_replicas, s.options.held_max_age, s.io,
                            s.log, std::move(events), why);
  if (s.store) s.store->adopt(s.options.node);
  else s.log.info("held messages stay in each node's memory: " + why);
}

void Cluster::on_fatal(std::function<void(const std::string&)> fatal) { impl_->fatal = std::move(fatal); }

void Cluster::start() {
  impl_->log.info(fmt::format("ExoCom node '{}' joined cluster '{}' over NATS", impl_->options.node, impl_->options.name));
  impl_->announce();
  impl_->tick();
  impl_->beats = std::thread([impl = impl_.get()] { impl->beat(); });
}

void Cluster::leave() {
  auto& s = *impl_;
  if (s.left || !s.nc) return;
  s.stop_beats();
  s.flush();
  std::string bye = s.presence_json(true);
  natsConnection_Publish(s.nc, (s.prefix + "presence").c_str(), bye.data(), static_cast<int>(bye.size()));
  natsConnection_FlushTimeout(s.nc, 1000);
  s.left = true;
  s.ticker.cancel();
  s.confirm_timer.cancel();
}

void Cluster::deliver(NodeIndex node, const Hop& hop, const Frame& frame) {
  std::string record;
  record.reserve(frame.payload().size() + hop.to_role.size() + hop.to_instance.size() + hop.activity.size() + 64);
  put(record, "D");
  put(record, hop.to_role);
  put(record, hop.to_instance);
  put(record, hop.from_role);
  put(record, hop.from_instance);
  put(record, hop.activity);
  put(record, std::to_string(hop.seq));
  put(record, frame.payload());
  Returned r{hop.seq,          std::string(hop.to_role),  std::string(hop.to_instance), std::string(hop.from_role),
             std::string(hop.from_instance), std::string(hop.activity), frame};
  auto& s = *impl_;
  if (!s.fits(record)) {
    // Dropped for good: settled at once (after the routing that sent it), so its sender is not kept waiting.
    asio::post(s.io, [&s, node, seq = hop.seq] { s.broker.confirmed(node, {seq}); });
    return;
  }
  auto& n = s.nodes[node];
  if (n.inflight.size() >= kDeliveryWindow || !n.waiting.empty()) {
    n.waiting.emplace_back(std::move(record), std::move(r));
    return;
  }
  s.append(node, std::move(record));
  n.inflight.emplace(hop.seq, std::move(r));
}

void Cluster::confirm(NodeIndex origin, uint64_t seq) {
  auto& s = *impl_;
  auto& list = s.nodes[origin].confirmations;
  list.push_back(seq);
  if (list.size() >= Impl::kConfirmAtOnce) return s.schedule_flush();  // keep the sender's window open
  if (s.confirm_timer_set) return;
  s.confirm_timer_set = true;
  s.confirm_timer.expires_after(Impl::kConfirmWithin);
  s.confirm_timer.async_wait([&s](const boost::system::error_code& ec) {
    s.confirm_timer_set = false;
    if (!ec) s.flush();
  });
}

void Cluster::give_back(NodeIndex origin, uint64_t seq) {
  impl_->nodes[origin].given_back.push_back(seq);
  impl_->schedule_flush();
}

void Cluster::forward(NodeIndex node, Forward kind, std::string_view text) {
  std::string record;
  put(record, "F");
  put(record, std::string(1, static_cast<char>(kind)));
  put(record, text);
  if (impl_->fits(record)) impl_->append(node, std::move(record));
}

uint64_t Cluster::store_held(const HeldCopy& copy) { return impl_->store ? impl_->store->put(copy) : 0; }

void Cluster::forget_held(uint64_t key) {
  if (impl_->store) impl_->store->forget(key);
}

void Cluster::local_instances_changed() { impl_->announce(); }

const std::string& Cluster::node_name(NodeIndex node) const {
  if (node >= impl_->nodes.size()) bug("an unknown node", __FILE__, __LINE__);
  return impl_->nodes[node].name;
}

NodeIndex Cluster::node_of_session(std::string_view session_id) const {
  size_t tilde = session_id.find('~');
  if (tilde == std::string_view::npos) return kThisNode;
  auto it = impl_->by_name.find(std::string(session_id.substr(0, tilde)));
  return it == impl_->by_name.end() ? kThisNode : it->second;
}

std::string Cluster::status_json() const {
  const auto& s = *impl_;
  json::array peers;
  auto now = Clock::now();
  for (NodeIndex i = 1; i < s.nodes.size(); ++i) {
    const auto& n = s.nodes[i];
    if (!n.alive) continue;
    peers.push_back(json::object{{"node", n.name},
                                 {"instances", n.instances},
                                 {"unconfirmed", n.inflight.size()},
                                 {"heardMsAgo", std::chrono::duration_cast<std::chrono::milliseconds>(now - n.heard).count()}});
  }
  json::object dropped;
  for (const auto& [reason, n] : s.dropped) dropped[reason] = n;
  char url[256] = "";
  if (s.nc) natsConnection_GetConnectedUrl(s.nc, url, sizeof url);
  return to_json(json::object{{"node", s.options.node},
                              {"boot", s.boot},
                              {"name", s.options.name},
                              {"nats", json::object{{"connected", s.nats_up.load()}, {"url", url}, {"disconnects", s.nats_disconnects}}},
                              {"peers", peers},
                              {"jetstream", s.store != nullptr},
                              {"heldInJetStream", s.store ? s.store->copies() : 0},
                              {"dropped", dropped}});
}

std::string Cluster::metrics_text() const {
  const auto& s = *impl_;
  std::string out;
  out += "# HELP exocom_cluster_nats_connected Whether this node is connected to NATS.\n# TYPE exocom_cluster_nats_connected gauge\n";
  out += fmt::format("exocom_cluster_nats_connected {}\n", s.nats_up ? 1 : 0);
  out += "# HELP exocom_cluster_nats_disconnects_total Times this node lost NATS.\n# TYPE exocom_cluster_nats_disconnects_total counter\n";
  out += fmt::format("exocom_cluster_nats_disconnects_total {}\n", s.nats_disconnects);
  out += "# HELP exocom_cluster_peer_instances Instances connected to each other node of the cluster.\n"
         "# TYPE exocom_cluster_peer_instances gauge\n";
  for (NodeIndex i = 1; i < s.nodes.size(); ++i)
    if (s.nodes[i].alive) out += fmt::format("exocom_cluster_peer_instances{{node=\"{}\"}} {}\n", s.nodes[i].name, s.nodes[i].instances);
  out += "# HELP exocom_cluster_packets_dropped_total Packets on the cluster subjects dropped unrouted, by reason.\n"
         "# TYPE exocom_cluster_packets_dropped_total counter\n";
  for (const auto& [reason, n] : s.dropped) out += fmt::format("exocom_cluster_packets_dropped_total{{reason=\"{}\"}} {}\n", reason, n);
  return out;
}

}  // namespace exo::exocom

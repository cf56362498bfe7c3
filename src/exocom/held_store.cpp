#include "exocom/held_store.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nats/nats.h>

#include "common/ids.hpp"
#include "exocom/trace_log.hpp"

namespace exo::exocom {

namespace asio = boost::asio;

namespace {

// A node name as one subject token (which cannot hold '.', which node names may), one to one:
// letters, digits and '-' stay, anything else becomes '_' and two hex digits ("a.b" is "a_2eb",
// "a_b" is "a_5fb"), so no two names share a token.
std::string token(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-') out += static_cast<char>(c);
    else out += fmt::format("_{:02x}", c);
  }
  return out;
}

// The stream's name, as it always was ('.' to '_'); each stream has its own subjects besides.
std::string stream_token(std::string s) {
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

// How long JetStream may take to confirm a copy before it counts as not stored: an answer lost
// on the way then keeps nothing waiting for ever.
constexpr int64_t kPublishWait = 5000;  // ms
// A message handed out while taking over but not acknowledged (it went astray) comes again.
constexpr auto kAdoptAckWait = std::chrono::seconds(2);

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  return natsMsgHeader_Get(msg, key, &value) == NATS_OK && value ? value : "";
}

}  // namespace

struct HeldStore::Impl {
  natsConnection* nc;
  jsCtx* js = nullptr;
  std::string stream, prefix, node, run = random_hex(8);
  std::chrono::milliseconds max_age{0};
  asio::io_context& io;
  TraceLog& log;
  Events events;

  // The copies this node answers for: guarded by `mutex` (JetStream's answers come on its thread).
  struct Copy {
    std::string subject;
    uint64_t seq = 0;        // in the stream; 0 until JetStream confirms it
    bool forgotten = false;  // delete once confirmed
  };
  struct Subject {
    size_t live = 0;         // copies not forgotten
    size_t unconfirmed = 0;  // copies JetStream has not confirmed yet
    uint64_t highest = 0;    // the highest stream sequence seen on it
    std::vector<uint64_t> doomed;  // forgotten copies to delete, unless the whole subject goes first
  };
  mutable std::mutex mutex;
  std::unordered_map<uint64_t, Copy> copies;
  std::map<std::string, Subject> subjects;
  uint64_t next_key = 1;

  // Requests that wait for an answer run on a thread of their own, never on the I/O loop.
  std::thread worker;
  std::mutex task_mutex;
  std::condition_variable task_cv;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
  bool cleanup_queued = false;  // guarded by `mutex`

  Impl(natsConnection* c, asio::io_context& i, TraceLog& l, Events e) : nc(c), io(i), log(l), events(std::move(e)) {}

  ~Impl() {
    {
      std::lock_guard lock(task_mutex);
      stopping = true;
    }
    task_cv.notify_all();
    if (worker.joinable()) worker.join();
    if (js) jsCtx_Destroy(js);
  }

  void run_tasks() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock lock(task_mutex);
        task_cv.wait(lock, [&] { return stopping || !tasks.empty(); });
        if (stopping) return;
        task = std::move(tasks.front());
        tasks.pop_front();
      }
      task();
    }
  }

  // Sleeps on the worker, unless the store is going away: whether it is.
  bool pause(std::chrono::milliseconds how_long) {
    std::unique_lock lock(task_mutex);
    return task_cv.wait_for(lock, how_long, [&] { return stopping; });
  }

  void queue(std::function<void()> task) {
    {
      std::lock_guard lock(task_mutex);
      tasks.push_back(std::move(task));
    }
    task_cv.notify_all();
  }

  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    uint64_t key = std::strtoull(header(msg, "Exo-Key").c_str(), nullptr, 10);
    natsMsg_Destroy(msg);
    bool ok = pa != nullptr && pae == nullptr;
    {
      std::lock_guard lock(self->mutex);
      auto it = self->copies.find(key);
      if (it == self->copies.end()) return;
      Subject& s = self->subjects[it->second.subject];
      --s.unconfirmed;
      if (ok) {
        it->second.seq = pa->Sequence;
        s.highest = std::max(s.highest, pa->Sequence);
        if (it->second.forgotten) self->doom(it);
      } else {
        s.live -= it->second.forgotten ? 0 : 1;
        self->copies.erase(it);
      }
    }
    asio::post(self->io, [self, key, ok] { (ok ? self->events.stored : self->events.not_stored)(key); });
  }

  // Under `mutex`: the copy is forgotten and JetStream has it: it goes.
  void doom(std::unordered_map<uint64_t, Copy>::iterator it) {
    subjects[it->second.subject].doomed.push_back(it->second.seq);
    copies.erase(it);
    if (!cleanup_queued) {
      cleanup_queued = true;
      queue([this] { clean_up(); });
    }
  }

  // A subject nothing lives on any more is purged at once (up to what it held, so a copy stored
  // meanwhile stays); otherwise its dead copies go one by one.
  void clean_up() {
    struct Job {
      uint64_t purge_below = 0;  // 0: delete one by one
      std::vector<uint64_t> deletes;
    };
    std::map<std::string, Job> work;
    {
      std::lock_guard lock(mutex);
      cleanup_queued = false;
      for (auto& [subject, s] : subjects) {
        if (s.doomed.empty()) continue;
        work[subject] = {s.live == 0 && s.unconfirmed == 0 ? s.highest + 1 : 0, std::move(s.doomed)};
        s.doomed.clear();
      }
    }
    for (auto& [subject, job] : work) {
      if (job.purge_below) {
        jsOptions o;
        jsOptions_Init(&o);
        o.Stream.Purge.Subject = subject.c_str();
        o.Stream.Purge.Sequence = job.purge_below;
        if (js_PurgeStream(js, stream.c_str(), &o, nullptr) == NATS_OK) continue;
      }
      for (uint64_t seq : job.deletes) js_DeleteMsg(js, stream.c_str(), seq, nullptr, nullptr);
    }
  }

  // Reads every copy `from` left, however long that takes: until the consumer has nothing left to
  // hand out and nothing handed out unacknowledged. What fails is tried again with back-off; a
  // copy that went astray comes again after kAdoptAckWait and one read twice is taken once. It
  // gives up only when the copies have expired anyway (the stream's max age) or the store closes,
  // and then says how many it could not take.
  // Two nodes that each believe themselves the first alive (each lost the other's heartbeats) must
  // not both take over one run: the first to store its claim in JetStream wins, the other hears
  // that the claim's id is a duplicate. Claims sit one token deeper than the copies' subjects.
  bool claimed(const std::string& from, const std::string& run_of_it) {
    const std::string subject = prefix + "_claim." + token(from) + ".by";
    const std::string id = "claim-" + from + "-" + run_of_it;
    for (int attempt = 1;; ++attempt) {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = id.c_str();
      po.MaxWait = kPublishWait;
      jsPubAck* pa = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus st = js_Publish(&pa, js, subject.c_str(), node.data(), static_cast<int>(node.size()), &po, &jerr);
      if (st == NATS_OK) {
        bool duplicate = pa->Duplicate;
        jsPubAck_Destroy(pa);
        if (duplicate) log.info(fmt::format("another node takes over the messages node '{}' held", from));
        return !duplicate;
      }
      // Unclaimed rather than untaken: a copy delivered twice beats one never delivered.
      if (attempt == 5 || pause(std::chrono::milliseconds(100 << attempt))) {
        log.warning(fmt::format("could not claim the messages node '{}' held ({}); taking them over unclaimed", from,
                                natsStatus_GetText(st)));
        return true;
      }
    }
  }

  void adopt(const std::string& from, const std::string& run_of_it) {
    if (!run_of_it.empty() && !claimed(from, run_of_it)) return;
    const std::string subject = prefix + "*." + token(from);
    const auto started = std::chrono::steady_clock::now();
    const auto give_up = started + std::max<std::chrono::milliseconds>(
                                       max_age.count() > 0 ? max_age : std::chrono::minutes(10), std::chrono::minutes(1));
    jsOptions jo;
    jsOptions_Init(&jo);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(kAdoptAckWait).count();
    so.Config.MaxAckPending = 65536;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.InactiveThreshold =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::minutes(10)).count();
    natsSubscription* sub = nullptr;
    std::vector<std::pair<uint64_t, Message>> found;  // by stream sequence
    std::unordered_set<uint64_t> seen;                // stream sequences read (a copy handed out twice)
    uint64_t own = 0;                                 // this run's own copies: held here already
    int64_t left = -1;                                // what the consumer still has, -1 unknown
    int failures = 0;                                 // in a row
    std::string trouble;                              // the last failure
    auto failed = [&](std::string what) {
      ++failures;
      if (failures == 3 || failures % 20 == 0)
        log.warning(fmt::format("taking over the messages node '{}' held: {} ({} tries); trying again", from, what,
                                failures));
      trouble = std::move(what);
      auto wait = std::chrono::milliseconds(std::min(50 << std::min(failures, 6), 2000));
      return !pause(wait);
    };
    auto drop_sub = [&] {
      if (!sub) return;
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
      sub = nullptr;
    };
    bool done = false;
    auto last_report = started;
    while (!done && std::chrono::steady_clock::now() < give_up) {
      {
        std::lock_guard lock(task_mutex);
        if (stopping) break;
      }
      if (!sub) {
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus st = js_PullSubscribe(&sub, js, subject.c_str(), nullptr, &jo, &so, &jerr);
        if (st != NATS_OK) {
          sub = nullptr;
          if (!failed(fmt::format("could not read JetStream: {} ({})", natsStatus_GetText(st), static_cast<int>(jerr))))
            break;
          continue;
        }
      }
      // How much is left: not yet handed out, or handed out and not acknowledged.
      jsConsumerInfo* ci = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus st = natsSubscription_GetConsumerInfo(&ci, sub, &jo, &jerr);
      if (st != NATS_OK) {
        bool gone = jerr == JSConsumerNotFoundErr || st == NATS_INVALID_SUBSCRIPTION || st == NATS_NOT_FOUND;
        if (gone) drop_sub();  // read again from the start; what was read is not taken twice
        if (!failed(fmt::format("no consumer info: {} ({})", natsStatus_GetText(st), static_cast<int>(jerr)))) break;
        continue;
      }
      uint64_t pending = ci->NumPending;
      uint64_t unacked = ci->NumAckPending > 0 ? static_cast<uint64_t>(ci->NumAckPending) : 0;
      jsConsumerInfo_Destroy(ci);
      left = static_cast<int64_t>(pending + unacked);
      if (left == 0) {
        done = true;
        break;
      }
      auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::seconds(10)) {
        last_report = now;
        log.info(fmt::format("taking over the messages node '{}' held: {} read, {} to come", from,
                             found.size() + own, left));
      }
      natsMsgList list{};
      int batch = static_cast<int>(std::clamp<uint64_t>(pending + unacked, 1, 256));
      // With nothing new to hand out, wait only for what went astray to come again.
      natsStatus fetched = natsSubscription_Fetch(&list, sub, batch, pending ? 2000 : 500, &jerr);
      if (fetched != NATS_OK) {
        natsMsgList_Destroy(&list);
        if (fetched == NATS_TIMEOUT) continue;  // the consumer says what is left
        if (jerr == JSConsumerNotFoundErr || fetched == NATS_INVALID_SUBSCRIPTION || fetched == NATS_CONNECTION_CLOSED)
          drop_sub();
        if (!failed(fmt::format("could not fetch: {} ({})", natsStatus_GetText(fetched), static_cast<int>(jerr))))
          break;
        continue;
      }
      failures = 0;
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* msg = list.Msgs[i];
        jsMsgMetaData* meta = nullptr;
        uint64_t seq = 0;
        if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
          seq = meta->Sequence.Stream;
          jsMsgMetaData_Destroy(meta);
        }
        natsMsg_Ack(msg, nullptr);
        if (seq == 0 || !seen.insert(seq).second) continue;  // handed out again: taken already
        if (header(msg, "Exo-Run") == run) {
          ++own;
          continue;
        }
        std::string subj = natsMsg_GetSubject(msg);
        // <cluster>.held.<role>.<node>: the role is the token after the prefix.
        std::string rest = subj.substr(prefix.size());
        Message m;
        m.role = rest.substr(0, rest.find('.'));
        m.from_role = header(msg, "Exo-From-Role");
        m.from_instance = header(msg, "Exo-From-Instance");
        m.activity = header(msg, "Exo-Activity");
        m.text.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
        {
          std::lock_guard lock(mutex);
          m.key = next_key++;
          copies[m.key] = {subj, seq, false};
          Subject& s = subjects[subj];
          ++s.live;
          s.highest = std::max(s.highest, seq);
        }
        found.emplace_back(seq, std::move(m));
      }
      natsMsgList_Destroy(&list);
      natsConnection_FlushTimeout(nc, 1000);  // the acknowledgements, before the consumer is asked again
    }
    drop_sub();
    if (!done)
      log.warning(fmt::format("could not take over {} messages node '{}' held{}",
                              left < 0 ? std::string("the") : std::to_string(left), from,
                              trouble.empty() ? std::string() : ": " + trouble));
    if (found.empty()) return;
    // In the order they were stored, whatever order they came in.
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Message> taken;
    taken.reserve(found.size());
    for (auto& [seq, m] : found) taken.push_back(std::move(m));
    log.info(fmt::format("took over {} messages node '{}' held", taken.size(), from));
    asio::post(io, [this, taken = std::move(taken)]() mutable { events.adopted(std::move(taken)); });
  }
};

std::unique_ptr<HeldStore> HeldStore::open(natsConnection* nc, const std::string& cluster, const std::string& node,
                                           int replicas, std::chrono::milliseconds max_age, asio::io_context& io,
                                           TraceLog& log, Events events, std::string& why) {
  auto impl = std::make_unique<Impl>(nc, io, log, std::move(events));
  impl->stream = "EXOCOM_HELD_" + stream_token(cluster);
  impl->prefix = cluster + ".held.";
  impl->node = node;
  impl->max_age = max_age;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = 2000;
  o.PublishAsync.AckHandler = &Impl::on_ack;
  o.PublishAsync.AckHandlerClosure = impl.get();
  o.PublishAsync.MaxPending = 65536;
  o.PublishAsync.StallWait = 1;  // at the limit, a copy is not stored rather than the routing thread waiting
  if (natsConnection_JetStream(&impl->js, nc, &o) != NATS_OK) {
    why = "no JetStream context";
    return nullptr;
  }
  std::string subjects = impl->prefix + ">";
  const char* list[] = {subjects.c_str()};
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = impl->stream.c_str();
  sc.Subjects = list;
  sc.SubjectsLen = 1;
  sc.Retention = js_LimitsPolicy;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  sc.MaxAge = std::chrono::duration_cast<std::chrono::nanoseconds>(max_age).count();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  // Nodes starting together race to create the stream: a loser hears "name in use" or, while the winner's
  // stream is still being set up, "subjects overlap"; either way it adopts the stream once it exists.
  for (int attempt = 0; attempt < 10; ++attempt) {
    jsStreamInfo* si = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_AddStream(&si, impl->js, &sc, nullptr, &jerr);
    if (s != NATS_OK && (jerr == JSStreamNameExistErr || jerr == JSStreamSubjectOverlapErr))
      s = js_UpdateStream(&si, impl->js, &sc, nullptr, &jerr);
    if (si) jsStreamInfo_Destroy(si);
    if (s == NATS_OK || (jerr != JSStreamNotFoundErr && jerr != JSStreamSubjectOverlapErr)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
  }
  if (s != NATS_OK) {
    why = jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr || s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT
              ? "the NATS server has no JetStream"
              : fmt::format("JetStream refused the stream {}: {} ({})", impl->stream, natsStatus_GetText(s),
                            static_cast<int>(jerr));
    return nullptr;
  }
  impl->worker = std::thread([p = impl.get()] { p->run_tasks(); });
  return std::unique_ptr<HeldStore>(new HeldStore(std::move(impl)));
}

HeldStore::HeldStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HeldStore::~HeldStore() = default;

uint64_t HeldStore::put(const Message& message) {
  auto& s = *impl_;
  uint64_t key;
  std::string subject = s.prefix + message.role + "." + token(s.node);
  {
    std::lock_guard lock(s.mutex);
    key = s.next_key++;
    s.copies[key] = {subject, 0, false};
    ++s.subjects[subject].live;
    ++s.subjects[subject].unconfirmed;
  }
  natsMsg* msg = nullptr;
  natsMsg_Create(&msg, subject.c_str(), nullptr, message.text.data(), static_cast<int>(message.text.size()));
  natsMsgHeader_Set(msg, "Exo-Key", std::to_string(key).c_str());
  natsMsgHeader_Set(msg, "Exo-Run", s.run.c_str());
  natsMsgHeader_Set(msg, "Exo-From-Role", message.from_role.c_str());
  natsMsgHeader_Set(msg, "Exo-From-Instance", message.from_instance.c_str());
  natsMsgHeader_Set(msg, "Exo-Activity", message.activity.c_str());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  std::string id = s.node + "-" + s.run + "-" + std::to_string(key);  // a copy sent twice is stored once
  po.MsgId = id.c_str();
  po.MaxWait = kPublishWait;  // an answer that never comes counts as not stored
  if (js_PublishMsgAsync(s.js, &msg, &po) != NATS_OK) {
    natsMsg_Destroy(msg);
    {
      std::lock_guard lock(s.mutex);
      --s.subjects[subject].live;
      --s.subjects[subject].unconfirmed;
      s.copies.erase(key);
    }
    asio::post(s.io, [impl = impl_.get(), key] { impl->events.not_stored(key); });
  }
  return key;
}

void HeldStore::forget(uint64_t key) {
  auto& s = *impl_;
  std::lock_guard lock(s.mutex);
  auto it = s.copies.find(key);
  if (it == s.copies.end() || it->second.forgotten) return;
  it->second.forgotten = true;
  --s.subjects[it->second.subject].live;
  if (it->second.seq != 0) s.doom(it);
}

void HeldStore::adopt(const std::string& node, const std::string& run) {
  impl_->queue([impl = impl_.get(), node, run] { impl->adopt(node, run); });
}

void HeldStore::settle() {
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MaxWait = 1000;
  js_PublishAsyncComplete(impl_->js, &o);
}

size_t HeldStore::copies() const {
  // Only those JetStream confirmed: what another node would find if this one died now.
  std::lock_guard lock(impl_->mutex);
  return static_cast<size_t>(std::count_if(impl_->copies.begin(), impl_->copies.end(),
                                           [](const auto& c) { return c.second.seq != 0; }));
}

}  // namespace exo::exocom

#include "exocom/held_store.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nats/nats.h>

#include "common/ids.hpp"
#include "exocom/trace_log.hpp"

namespace exo::exocom {

namespace asio = boost::asio;

namespace {

// A subject token cannot hold '.', which node names may.
std::string token(std::string s) {
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  return natsMsgHeader_Get(msg, key, &value) == NATS_OK && value ? value : "";
}

}  // namespace

struct HeldStore::Impl {
  natsConnection* nc;
  jsCtx* js = nullptr;
  std::string stream, prefix, node, run = random_hex(8);
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

  void adopt(const std::string& from) {
    std::string subject = prefix + "*." + token(from);
    jsOptions jo;
    jsOptions_Init(&jo);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* sub = nullptr;
    if (js_PullSubscribe(&sub, js, subject.c_str(), nullptr, &jo, &so, nullptr) != NATS_OK) {
      log.warning("could not read the messages node '" + from + "' held from JetStream");
      return;
    }
    // The consumer says how many there are: read them all, however slowly they come.
    uint64_t pending = 0;
    jsConsumerInfo* ci = nullptr;
    if (natsSubscription_GetConsumerInfo(&ci, sub, &jo, nullptr) == NATS_OK) {
      pending = ci->NumPending;
      jsConsumerInfo_Destroy(ci);
    }
    std::vector<Message> found;
    uint64_t read = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (read < pending && std::chrono::steady_clock::now() < deadline) {
      natsMsgList list{};
      int batch = static_cast<int>(std::min<uint64_t>(pending - read, 256));
      natsStatus fetched = natsSubscription_Fetch(&list, sub, batch, 1000, nullptr);
      if (fetched != NATS_OK || list.Count == 0) {
        natsMsgList_Destroy(&list);
        if (fetched == NATS_TIMEOUT) continue;
        break;
      }
      read += static_cast<uint64_t>(list.Count);
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* msg = list.Msgs[i];
        if (header(msg, "Exo-Run") == run) continue;  // this run's own: held here already
        std::string subj = natsMsg_GetSubject(msg);
        // <cluster>.held.<role>.<node>: the role is the token after the prefix.
        std::string rest = subj.substr(prefix.size());
        Message m;
        m.role = rest.substr(0, rest.find('.'));
        m.from_role = header(msg, "Exo-From-Role");
        m.from_instance = header(msg, "Exo-From-Instance");
        m.activity = header(msg, "Exo-Activity");
        m.text.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
        jsMsgMetaData* meta = nullptr;
        uint64_t seq = 0;
        if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
          seq = meta->Sequence.Stream;
          jsMsgMetaData_Destroy(meta);
        }
        {
          std::lock_guard lock(mutex);
          m.key = next_key++;
          copies[m.key] = {subj, seq, false};
          Subject& s = subjects[subj];
          ++s.live;
          s.highest = std::max(s.highest, seq);
        }
        found.push_back(std::move(m));
      }
      natsMsgList_Destroy(&list);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (found.empty()) return;
    log.info(fmt::format("took over {} messages node '{}' held", found.size(), from));
    asio::post(io, [this, found = std::move(found)]() mutable { events.adopted(std::move(found)); });
  }
};

std::unique_ptr<HeldStore> HeldStore::open(natsConnection* nc, const std::string& cluster, const std::string& node,
                                           int replicas, std::chrono::milliseconds max_age, asio::io_context& io,
                                           TraceLog& log, Events events, std::string& why) {
  auto impl = std::make_unique<Impl>(nc, io, log, std::move(events));
  impl->stream = "EXOCOM_HELD_" + token(cluster);
  impl->prefix = cluster + ".held.";
  impl->node = node;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = 2000;
  o.PublishAsync.AckHandler = &Impl::on_ack;
  o.PublishAsync.AckHandlerClosure = impl.get();
  o.PublishAsync.MaxPending = 65536;
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

void HeldStore::adopt(const std::string& node) {
  impl_->queue([impl = impl_.get(), node] { impl->adopt(node); });
}

void HeldStore::settle() {
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MaxWait = 1000;
  js_PublishAsyncComplete(impl_->js, &o);
}

size_t HeldStore::copies() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->copies.size();
}

}  // namespace exo::exocom

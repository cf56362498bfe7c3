// The messages {{serviceRole}} handles: (payload, {reply, send, request, message}). A handler may be
// async: its message counts as handled (and is acknowledged to ExoCom) once its promise settles, and
// on SIGTERM the service lets running handlers finish and reply before it exits.
export const handlers = {
  ping: (payload, { reply }) => reply('pong', payload),
};

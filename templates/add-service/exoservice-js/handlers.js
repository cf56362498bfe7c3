// The messages {{serviceRole}} handles: (payload, {reply, send, request, message}).
export const handlers = {
  ping: (payload, { reply }) => reply('pong', payload),
};

import pino, { type Logger } from 'pino';

export type { Logger };

/** `service` on every log line, audit lines included. */
export const SERVICE_NAME = 'bcs-api';

/**
 * One JSON line per event. Anything that could carry a secret is censored wherever it appears, as a
 * second line of defence: code should not log such values in the first place.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: SERVICE_NAME },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          '*.token',
          '*.secret',
          '*.password',
          '*.register_token',
          '*.user_token',
          '*.registerToken',
          '*.userToken',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

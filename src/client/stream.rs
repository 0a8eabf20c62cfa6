//! Streamed completions: server-sent events to [`CompletionChunk`]s, and the
//! [`SampleCollector`] that puts interleaved samples back together.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use eventsource_stream::{EventStream, EventStreamError};
use futures_core::Stream;

use crate::api::{CompletionChunk, FinishReason, Usage};
use crate::error::Error;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// The chunks of a streamed completion, as returned by
/// [`Client::completion_model_config_stream`](crate::Client::completion_model_config_stream).
///
/// Each item is one server-sent event: a response-shaped object whose `data` holds one
/// delta for sample `data[0].index`. Data lines that are not JSON (a `[DONE]` sentinel)
/// are skipped. When the connection closes before every sample sent a non-null
/// `finish_reason`, the last item is [`Error::StreamEndedEarly`]: a truncated stream is
/// never silent. After an error that ends the stream (transport, early end) the stream
/// yields nothing more.
///
/// A server that answers a stream request with one whole JSON response instead of events
/// is accepted too: that response is the stream's only item.
pub struct CompletionStream {
    source: Source,
    /// Per sample seen so far: whether it finished.
    samples: BTreeMap<u32, bool>,
    /// Samples expected (`num_samples` of the request, or larger if a chunk says so).
    expected: u32,
    done: bool,
    /// Told about every item (the traced completion path records its span with it).
    observer: Option<Box<dyn StreamObserver>>,
}

/// Watches a [`CompletionStream`] from outside the transport: each chunk, and the end
/// (`None` when the stream ended well). Dropped with the stream, so a stream the caller
/// lets go early is noticed by the observer's `Drop`.
pub(crate) trait StreamObserver: Send {
    /// A chunk on its way to the caller.
    fn on_chunk(&mut self, chunk: &CompletionChunk);
    /// The stream ended: `error` is its last item when it ended badly.
    fn on_end(&mut self, error: Option<&Error>);
}

enum Source {
    Events(Pin<Box<EventStream<ByteStream>>>),
    Whole(Option<Box<CompletionChunk>>),
}

impl fmt::Debug for CompletionStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionStream")
            .field("samples", &self.samples)
            .field("expected", &self.expected)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl CompletionStream {
    pub(crate) fn new(body: ByteStream, num_samples: u32) -> Self {
        Self {
            source: Source::Events(Box::pin(EventStream::new(body))),
            samples: BTreeMap::new(),
            expected: num_samples,
            done: false,
            observer: None,
        }
    }

    /// A "stream" of one whole answer. Its samples are complete by construction: in a whole
    /// answer a null `finish_reason` means the provider gave none, not a cut.
    pub(crate) fn whole(answer: CompletionChunk) -> Self {
        Self {
            source: Source::Whole(Some(Box::new(answer))),
            samples: BTreeMap::new(),
            expected: 0,
            done: false,
            observer: None,
        }
    }

    /// Drain the stream and put the samples back together: one [`Sample`] per index, in
    /// index order. The first error (including an early end) is returned instead.
    pub async fn collect_samples(mut self) -> Result<Vec<Sample>, Error> {
        let mut collector = SampleCollector::new();
        while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
            collector.push(&item?);
        }
        Ok(collector.into_samples())
    }

    /// The same stream, reporting to `observer`.
    pub(crate) fn observed(mut self, observer: Box<dyn StreamObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn track(&mut self, chunk: &CompletionChunk) {
        if let Some(n) = chunk.num_samples {
            self.expected = self.expected.max(n);
        }
        for item in &chunk.data {
            let finished = self.samples.entry(item.index).or_insert(false);
            *finished |= item.finish_reason.is_some();
        }
    }

    fn unfinished(&self) -> Vec<u32> {
        let mut out: Vec<u32> = (0..self.expected)
            .filter(|i| !self.samples.get(i).copied().unwrap_or(false))
            .collect();
        out.extend(
            self.samples
                .range(self.expected..)
                .filter(|(_, finished)| !**finished)
                .map(|(i, _)| *i),
        );
        out
    }
}

impl Stream for CompletionStream {
    type Item = Result<CompletionChunk, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = ready!(this.poll_chunk(cx));
        if let Some(observer) = &mut this.observer {
            match &item {
                Some(Ok(chunk)) => observer.on_chunk(chunk),
                Some(Err(e)) => observer.on_end(Some(e)),
                None => observer.on_end(None),
            }
        }
        Poll::Ready(item)
    }
}

impl CompletionStream {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<CompletionChunk, Error>>> {
        let this = self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let events = match &mut this.source {
                Source::Events(events) => events,
                Source::Whole(answer) => {
                    this.done = true;
                    return Poll::Ready(answer.take().map(|a| Ok(*a)));
                }
            };
            match ready!(events.as_mut().poll_next(cx)) {
                None => {
                    this.done = true;
                    let unfinished = this.unfinished();
                    if unfinished.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(Error::StreamEndedEarly {
                        unfinished,
                        expected: Some(this.expected),
                    })));
                }
                Some(Err(EventStreamError::Transport(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Error::transport(e))));
                }
                Some(Err(EventStreamError::Utf8(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Error::decode(
                        None,
                        "server-sent events (UTF-8 text)",
                        e,
                        "",
                    ))));
                }
                Some(Err(EventStreamError::Parser(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Error::decode(
                        None,
                        "server-sent events",
                        &e,
                        &e.input,
                    ))));
                }
                Some(Ok(event)) => {
                    let data = event.data.trim();
                    match serde_json::from_str::<CompletionChunk>(data) {
                        Ok(chunk) => {
                            this.track(&chunk);
                            return Poll::Ready(Some(Ok(chunk)));
                        }
                        // Not JSON at all (`[DONE]`, a keep-alive text): skip, as the spec says.
                        Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(data).is_err() => {
                            continue
                        }
                        // JSON, but not a chunk (an error object mid-stream): the caller sees it.
                        Err(e) => {
                            return Poll::Ready(Some(Err(Error::decode(
                                None,
                                "a completion chunk",
                                e,
                                data,
                            ))))
                        }
                    }
                }
            }
        }
    }
}

/// One sample of a streamed completion, put back together.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// The sample, `0..num_samples`.
    pub index: u32,
    /// The log id of this sample, when a chunk carried it.
    pub id: Option<String>,
    /// The concatenated `output` deltas.
    pub output: String,
    /// The concatenated `raw_output` deltas, when chunks carried any.
    pub raw_output: Option<String>,
    /// The final chunk's `finish_reason`; `None` if the sample never finished.
    pub finish_reason: Option<FinishReason>,
}

/// Demultiplexes the chunks of a streamed completion by `index` into one [`Sample`] each.
///
/// ```
/// use humanloop_tracing::api::CompletionChunk;
/// use humanloop_tracing::client::SampleCollector;
///
/// let mut collector = SampleCollector::new();
/// for line in [
///     r#"{"data":[{"index":1,"output":"Bon"}],"provider_responses":[]}"#,
///     r#"{"data":[{"index":0,"output":"Hel"}],"provider_responses":[]}"#,
///     r#"{"data":[{"index":0,"output":"lo","finish_reason":"stop"}],"provider_responses":[]}"#,
///     r#"{"data":[{"index":1,"output":"jour","finish_reason":"length"}],"provider_responses":[]}"#,
/// ] {
///     collector.push(&serde_json::from_str::<CompletionChunk>(line).unwrap());
/// }
/// let samples = collector.into_samples();
/// assert_eq!(samples[0].output, "Hello");
/// assert_eq!(samples[1].output, "Bonjour");
/// assert_eq!(samples[1].finish_reason.as_ref().unwrap().as_str(), "length");
/// ```
#[derive(Clone, Debug, Default)]
pub struct SampleCollector {
    samples: BTreeMap<u32, Sample>,
    usage: Option<Usage>,
}

impl SampleCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one chunk's deltas.
    pub fn push(&mut self, chunk: &CompletionChunk) {
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        for item in &chunk.data {
            let sample = self.samples.entry(item.index).or_insert_with(|| Sample {
                index: item.index,
                ..Sample::default()
            });
            if sample.id.is_none() {
                sample.id.clone_from(&item.id);
            }
            if let Some(text) = &item.output {
                sample.output.push_str(text);
            }
            if let Some(raw) = &item.raw_output {
                sample
                    .raw_output
                    .get_or_insert_with(String::new)
                    .push_str(raw);
            }
            if item.finish_reason.is_some() {
                sample.finish_reason.clone_from(&item.finish_reason);
            }
        }
    }

    /// The samples so far, in index order.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.values()
    }

    /// The last `usage` a chunk carried.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// The samples, in index order.
    pub fn into_samples(self) -> Vec<Sample> {
        self.samples.into_values().collect()
    }
}

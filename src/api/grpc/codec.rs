//! The protobuf codec of the generated service and client: prost's, except
//! that a message that does not decode is the sender's mistake —
//! `INVALID_ARGUMENT` with the usual `livescan-error-bin` details — not the
//! `INTERNAL` error prost's codec reports. `WatchSession` answers with
//! messages encoded before they reach the codec (`EncodedCodec`).

use crate::engine::EngineError;
use bytes::{BufMut, Bytes};
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

#[derive(Debug, Clone, Default)]
pub struct LivescanCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Codec for LivescanCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(self.0.decoder())
    }
}

/// prost's decoder with its errors reported as invalid input.
#[derive(Debug, Clone)]
pub struct CheckedDecoder<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|decode| {
            super::convert::status(EngineError::invalid(
                "request",
                format!("is not a valid protobuf message: {}", decode.message()),
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// A message already encoded: `WatchSession` sends each event's encoding,
/// made once and shared by every watcher of the session.
#[derive(Debug, Clone)]
pub struct Encoded(pub Bytes);

/// The codec of `WatchSession`: requests decode as with [`LivescanCodec`];
/// answers are written as they were encoded.
#[derive(Debug, Clone)]
pub struct EncodedCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for EncodedCodec<T, U> {
    fn default() -> Self {
        EncodedCodec(PhantomData)
    }
}

impl<U> Codec for EncodedCodec<Encoded, U>
where
    U: prost::Message + Default + Send + 'static,
{
    type Encode = Encoded;
    type Decode = U;
    type Encoder = EncodedEncoder;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        EncodedEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(ProstDecoder::new(BufferSettings::default()))
    }
}

#[derive(Debug, Clone)]
pub struct EncodedEncoder;

impl Encoder for EncodedEncoder {
    type Item = Encoded;
    type Error = Status;

    fn encode(&mut self, item: Encoded, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item.0);
        Ok(())
    }
}

//! The protobuf codec of the generated service and client: prost's, except
//! that a message that does not decode is the sender's mistake —
//! `INVALID_ARGUMENT` with the usual `livescan-error-bin` details — not the
//! `INTERNAL` error prost's codec reports.

use crate::engine::EngineError;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
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

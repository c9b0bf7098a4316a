//! `jaeger.api_v2.SamplingManager/GetSamplingStrategy`, registered on the api_v2 gRPC
//! server (port 14250) next to `PostSpans`, as in Jaeger: what Jaeger agents (and Sextant's
//! agent) proxy their SDKs' requests to.

use sextant_proto::jaeger::api_v2::sampling_manager_server::{
    SamplingManager, SamplingManagerServer,
};
use sextant_proto::jaeger::api_v2::{SamplingStrategyParameters, SamplingStrategyResponse};
use tonic::{Request, Response, Status};

use super::SamplingProvider;

pub struct SamplingService {
    provider: SamplingProvider,
}

pub fn service(provider: SamplingProvider) -> SamplingManagerServer<SamplingService> {
    SamplingManagerServer::new(SamplingService { provider })
}

#[tonic::async_trait]
impl SamplingManager for SamplingService {
    async fn get_sampling_strategy(
        &self,
        request: Request<SamplingStrategyParameters>,
    ) -> Result<Response<SamplingStrategyResponse>, Status> {
        let service = request.into_inner().service_name;
        Ok(Response::new(self.provider.strategy(&service)))
    }
}

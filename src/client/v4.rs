//! Typed calls for the rest of the v4 API a user (and the quickstart) needs: model
//! configs, feedback, projects and their deployments, deployed completions and chats.
//!
//! These are plain transport calls (retried per the client's policy, not traced); the
//! traced completion is [`Client::completion_model_config`].

use http::Method;

use super::{to_body, Client};
use crate::api::{
    ChatMessage, CompletionResponse, DeployedRequest, EnvironmentProjectConfigResponse,
    EnvironmentRequest, FeedbackRequest, FeedbackResponse, JsonMap, ModelConfigResponse, Page,
    ProjectConfigResponse, ProjectModelConfigRequest, ProjectResponse,
};
use crate::error::Error;

impl Client {
    /// `POST {base}/model-configs`: register a model config in its project (the same
    /// config registered twice is one config); answers it with its project.
    ///
    /// ```no_run
    /// # async fn demo(client: humanloop_tracing::Client) -> Result<(), humanloop_tracing::Error> {
    /// use humanloop_tracing::api::{ChatMessage, ModelConfig, ProjectModelConfigRequest};
    /// let mut config = ModelConfig::new("gpt-4o-mini");
    /// config.chat_template = Some(vec![ChatMessage::user("Hello {{name}}")]);
    /// let registered = client
    ///     .register_model_config(&ProjectModelConfigRequest::new("demo", config))
    ///     .await?;
    /// println!("config {}", registered.config.id);
    /// # Ok(()) }
    /// ```
    pub async fn register_model_config(
        &self,
        req: &ProjectModelConfigRequest,
    ) -> Result<ProjectConfigResponse, Error> {
        let url = self.url(&["model-configs"]);
        self.call(Method::POST, url, Some(to_body(req)?), "a project config")
            .await
    }

    /// `GET {base}/model-configs/{id}`.
    pub async fn get_model_config(&self, id: &str) -> Result<ModelConfigResponse, Error> {
        let url = self.url(&["model-configs", id]);
        self.call(Method::GET, url, None, "a model config").await
    }

    /// `POST {base}/feedback` with a list: one stored item per request item, in order.
    pub async fn feedback(
        &self,
        items: &[FeedbackRequest],
    ) -> Result<Vec<FeedbackResponse>, Error> {
        let url = self.url(&["feedback"]);
        self.call(
            Method::POST,
            url,
            Some(to_body(items)?),
            "a list of feedback",
        )
        .await
    }

    /// `POST {base}/projects`: a new project (409 when the name is taken).
    pub async fn create_project(&self, name: &str) -> Result<ProjectResponse, Error> {
        let url = self.url(&["projects"]);
        let body = to_body(&serde_json::json!({ "name": name }))?;
        self.call(Method::POST, url, Some(body), "a project").await
    }

    /// `GET {base}/projects/{id}`.
    pub async fn get_project(&self, id: &str) -> Result<ProjectResponse, Error> {
        let url = self.url(&["projects", id]);
        self.call(Method::GET, url, None, "a project").await
    }

    /// `GET {base}/projects?page=&size=`: one page (1-based) of projects.
    pub async fn list_projects(
        &self,
        page: u64,
        size: u64,
    ) -> Result<Page<ProjectResponse>, Error> {
        let mut url = self.url(&["projects"]);
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("size", &size.to_string());
        self.call(Method::GET, url, None, "a page of projects")
            .await
    }

    /// `GET {base}/projects/{id}/configs`: the project's model configs.
    pub async fn project_configs(&self, id: &str) -> Result<Vec<ProjectConfigResponse>, Error> {
        let url = self.url(&["projects", id, "configs"]);
        self.call(Method::GET, url, None, "a list of project configs")
            .await
    }

    /// `GET {base}/projects/{id}/active-config[?environment=…]`: the config the project
    /// serves (in `environment`, when given).
    pub async fn active_config(
        &self,
        project_id: &str,
        environment: Option<&str>,
    ) -> Result<ProjectConfigResponse, Error> {
        let mut url = self.url(&["projects", project_id, "active-config"]);
        if let Some(env) = environment {
            url.query_pairs_mut().append_pair("environment", env);
        }
        self.call(Method::GET, url, None, "a project config").await
    }

    /// `PATCH {base}/projects/{id}/deploy-config`: deploy `config_id` to `environments`
    /// (the endpoint's default environment when empty); answers every deployment of the
    /// project.
    pub async fn deploy_config(
        &self,
        project_id: &str,
        config_id: &str,
        environments: &[EnvironmentRequest],
    ) -> Result<Vec<EnvironmentProjectConfigResponse>, Error> {
        let url = self.url(&["projects", project_id, "deploy-config"]);
        let mut body = serde_json::json!({ "config_id": config_id });
        if !environments.is_empty() {
            body["environments"] = serde_json::json!(environments);
        }
        self.call(
            Method::PATCH,
            url,
            Some(to_body(&body)?),
            "a list of deployments",
        )
        .await
    }

    /// `GET {base}/projects/{id}/deployed-configs`.
    pub async fn deployed_configs(
        &self,
        project_id: &str,
    ) -> Result<Vec<EnvironmentProjectConfigResponse>, Error> {
        let url = self.url(&["projects", project_id, "deployed-configs"]);
        self.call(Method::GET, url, None, "a list of deployments")
            .await
    }

    /// `POST {base}/completion-deployed`: a completion with the config the project serves,
    /// answered whole (a `stream` field in `req.extra` is dropped).
    pub async fn completion_deployed(
        &self,
        req: &DeployedRequest,
    ) -> Result<CompletionResponse, Error> {
        self.deployed("completion-deployed", req).await
    }

    /// `POST {base}/chat-deployed`: a chat (`req.messages`) with the config the project
    /// serves, answered whole; each sample's `output_message` is the assistant's turn.
    pub async fn chat_deployed(&self, req: &DeployedRequest) -> Result<CompletionResponse, Error> {
        self.deployed("chat-deployed", req).await
    }

    /// `POST {base}/chat-model-config`: a chat with the saved config `model_config_id`,
    /// answered whole.
    pub async fn chat_model_config(
        &self,
        model_config_id: &str,
        messages: &[ChatMessage],
        inputs: Option<&JsonMap>,
    ) -> Result<CompletionResponse, Error> {
        let url = self.url(&["chat-model-config"]);
        let mut body =
            serde_json::json!({ "model_config_id": model_config_id, "messages": messages });
        if let Some(inputs) = inputs {
            body["inputs"] = serde_json::json!(inputs);
        }
        self.call(Method::POST, url, Some(to_body(&body)?), "a chat response")
            .await
    }

    async fn deployed(
        &self,
        route: &str,
        req: &DeployedRequest,
    ) -> Result<CompletionResponse, Error> {
        let url = self.url(&[route]);
        let mut req = req.clone();
        req.extra.remove("stream");
        self.call(
            Method::POST,
            url,
            Some(to_body(&req)?),
            "a completion response",
        )
        .await
    }
}

using System.Text.Json.Nodes;
using Wharf.Core.Webhooks;

namespace Wharf.Core.Tests.Webhooks;

/// <summary>
/// The reference registry's notification envelope, field by field as its documentation ("Work with notifications")
/// lists them: tooling that consumes Distribution's notifications reads Wharf's unchanged.
/// </summary>
public sealed class DistributionEnvelopeTests
{
    // The documented fields of an event, of its target (a distribution.Descriptor plus length, repository, url, tag),
    // of RequestRecord, ActorRecord and SourceRecord.
    private static readonly string[] EventFields = ["id", "timestamp", "action", "target", "request", "actor", "source"];
    private static readonly string[] TargetFields = ["mediaType", "digest", "size", "length", "repository", "fromRepository", "url", "tag"];
    private static readonly string[] RequestFields = ["id", "addr", "host", "method", "useragent"];
    private static readonly string[] ActorFields = ["name"];
    private static readonly string[] SourceFields = ["addr", "instanceID"];

    private static readonly WebhookSource Source = new("registry.test:5000", "a53db899-3b4b-4a62-a067-8dd013beaca4", "http://registry.test:5000");
    private static readonly DateTimeOffset At = new(2026, 3, 9, 14, 44, 26, 402, TimeSpan.Zero);
    private const string Digest = "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf";

    private static JsonObject Event(WebhookNotice notice, Guid id)
    {
        var body = JsonNode.Parse(WebhookPayloads.Build(notice, WebhookFormat.Distribution, id, Source)!)!.AsObject();
        Assert.Equal(["events"], body.Select(p => p.Key));
        return Assert.Single(body["events"]!.AsArray())!.AsObject();
    }

    private static void OnlyDocumented(JsonObject node, string[] documented, params string[] required)
    {
        foreach (var (name, _) in node) Assert.Contains(name, documented);
        foreach (var name in required) Assert.True(node.ContainsKey(name), $"'{name}' missing in {node.ToJsonString()}");
    }

    [Fact]
    public void A_push_is_one_event_with_the_documented_fields_and_types()
    {
        var id = Guid.NewGuid();
        var notice = new WebhookNotice
        {
            Event = WebhookEvents.Push, Action = "push", Repository = "library/hello", Tag = "latest", Tags = ["latest"], Digest = Digest,
            MediaType = "application/vnd.oci.image.manifest.v1+json", Size = 708, Actor = "alice", At = At,
            Request = new ChangeRequest("6df24a34", "127.0.0.1:42961", "registry.test:5000", "PUT", "docker/28.0"),
        };
        var e = Event(notice, id);
        OnlyDocumented(e, EventFields, EventFields);
        Assert.Equal(id.ToString("D"), e["id"]!.GetValue<string>());
        Assert.Equal(At, DateTimeOffset.Parse(e["timestamp"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("push", e["action"]!.GetValue<string>());

        var target = e["target"]!.AsObject();
        OnlyDocumented(target, TargetFields, "mediaType", "digest", "size", "length", "repository", "url", "tag");
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", target["mediaType"]!.GetValue<string>());
        Assert.Equal(Digest, target["digest"]!.GetValue<string>());
        Assert.Equal(708, target["size"]!.GetValue<long>());
        Assert.Equal(708, target["length"]!.GetValue<long>()); // deprecated for size, both still set
        Assert.Equal("library/hello", target["repository"]!.GetValue<string>());
        Assert.Equal($"http://registry.test:5000/v2/library/hello/manifests/{Digest}", target["url"]!.GetValue<string>());
        Assert.Equal("latest", target["tag"]!.GetValue<string>());

        var request = e["request"]!.AsObject();
        OnlyDocumented(request, RequestFields, RequestFields);
        Assert.Equal("PUT", request["method"]!.GetValue<string>());
        Assert.Equal("127.0.0.1:42961", request["addr"]!.GetValue<string>());
        OnlyDocumented(e["actor"]!.AsObject(), ActorFields, "name");
        Assert.Equal("alice", e["actor"]!["name"]!.GetValue<string>());
        OnlyDocumented(e["source"]!.AsObject(), SourceFields, SourceFields);
        Assert.Equal("registry.test:5000", e["source"]!["addr"]!.GetValue<string>());
    }

    [Fact]
    public void A_manifest_delete_names_only_the_digest_and_repository_and_an_anonymous_actor_is_empty()
    {
        var notice = new WebhookNotice { Event = WebhookEvents.Delete, Action = "manifest", Repository = "library/test", Digest = Digest, At = At };
        var e = Event(notice, Guid.NewGuid());
        OnlyDocumented(e, EventFields, EventFields);
        Assert.Equal("delete", e["action"]!.GetValue<string>());
        var target = e["target"]!.AsObject();
        Assert.Equal(["digest", "repository"], target.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("library/test", target["repository"]!.GetValue<string>());
        Assert.Empty(e["actor"]!.AsObject());
    }

    [Fact]
    public void A_build_has_no_reference_event_and_sends_nothing_in_the_envelope()
    {
        var notice = new WebhookNotice { Event = WebhookEvents.Build, Action = "succeeded", Repository = "a/b", At = At };
        Assert.Null(WebhookPayloads.Build(notice, WebhookFormat.Distribution, Guid.NewGuid(), Source));
        Assert.NotNull(WebhookPayloads.Build(notice, WebhookFormat.Wharf, Guid.NewGuid(), Source));
    }
}

using Convnet.Tensors;

namespace Convnet.Inference;

/// <summary>
/// Collects the stages of an inference plan as each layer, in order, adds its part
/// (<c>Layer.CompileInference</c>): a new stage, or something the previous stage takes in.
/// </summary>
internal sealed class InferenceCompiler
{
    private readonly List<InferenceStage> _stages = [];
    private (Shape Image, Shape Output, string Name)? _flatten;

    /// <summary>The stage the next layer may fuse into; null at the start or after a Flatten not yet placed.</summary>
    public InferenceStage? Last => _flatten is null && _stages.Count > 0 ? _stages[^1] : null;

    /// <summary>Appends <paramref name="stage"/>.</summary>
    public void Add(InferenceStage stage)
    {
        PlaceFlatten();
        _stages.Add(stage);
    }

    /// <summary>Adds a following ReLU to the last stage, or a stage of its own.</summary>
    public void Rectify(string name, Shape shape)
    {
        if (Last?.TryRectify(name) != true)
        {
            Add(new ReluStage(name, shape));
        }
    }

    /// <summary>Adds a per-channel x·scale + shift to the last stage, or a stage of its own.</summary>
    public void Affine(float[] scale, float[] shift, string name, Shape shape)
    {
        if (Last?.TryAffine(scale, shift, name) != true)
        {
            Add(new AffineStage(scale, shift, name, shape));
        }
    }

    /// <summary>Adds a "valid" max pool to the last stage, or a stage of its own.</summary>
    public void MaxPool(int poolSize, int stride, Shape input, Shape output, string name)
    {
        if (Last?.TryMaxPool(poolSize, stride, output, name) != true)
        {
            Add(new MaxPoolStage(poolSize, stride, input, output, name));
        }
    }

    /// <summary>
    /// (H, W, C) → (C, H, W): kept pending, so that a following product can take it in as an order
    /// of its weights' rows (<see cref="TakeFlatten"/>); else a stage of its own.
    /// </summary>
    public void Flatten(Shape image, Shape output, string name)
    {
        PlaceFlatten();
        _flatten = (image, output, name);
    }

    /// <summary>The image shape of a Flatten just before, which the caller takes in (null when there is none).</summary>
    public Shape? TakeFlatten()
    {
        var image = _flatten?.Image;
        _flatten = null;
        return image;
    }

    /// <summary>The stages, each completed.</summary>
    public InferenceStage[] Finish()
    {
        PlaceFlatten();
        foreach (var stage in _stages)
        {
            stage.Complete();
        }
        return [.. _stages];
    }

    private void PlaceFlatten()
    {
        if (_flatten is { } f)
        {
            _flatten = null;
            _stages.Add(new FlattenStage(f.Image, f.Output, f.Name));
        }
    }
}

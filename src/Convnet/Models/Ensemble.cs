using System.Globalization;
using System.Text;
using Convnet.Data;
using Convnet.Layers;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// Several trained <see cref="Sequential"/> models of the same input shape and classes that
/// predict together: the ensemble's probabilities are the mean of the members' probabilities
/// (each member's softmax output; a member that does not end with Softmax has its outputs turned
/// into probabilities first). The mean is summed in member order, then divided by the member
/// count, so the same members always give the same bits. The ensemble owns its members and
/// disposes them.
/// </summary>
public sealed class Ensemble : IClassifier
{
    private const int InferenceBatch = 256;

    /// <summary>Keras's epsilon: probabilities are clamped to [ε, 1] before the log of the loss.</summary>
    public const double ProbabilityEpsilon = 1e-7;

    private readonly Sequential[] _members;
    private readonly IReadOnlyList<Sequential> _readOnlyMembers;

    /// <exception cref="ArgumentException">No members, a repeated or empty member, or members that differ in input shape or classes.</exception>
    public Ensemble(IEnumerable<Sequential> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        _members = [.. members];
        Validate(_members);
        _readOnlyMembers = Array.AsReadOnly(_members);
    }

    /// <summary>The models, in the order their probabilities are summed (and saved: member0, member1, ...).</summary>
    public IReadOnlyList<Sequential> Members => _readOnlyMembers;

    /// <inheritdoc/>
    public Shape InputShape => _members[0].InputShape;

    /// <inheritdoc/>
    public int Classes => _members[0].Classes;

    /// <summary>The members' class names (the same for all, checked by <see cref="Validate"/>).</summary>
    public IReadOnlyList<string>? ClassNames => _members[0].ClassNames;

    /// <summary>Trainable parameters of all members together.</summary>
    public int ParameterCount => _members.Sum(m => m.ParameterCount);

    /// <summary>Non-trainable state values of all members together.</summary>
    public int NonTrainableParameterCount => _members.Sum(m => m.NonTrainableParameterCount);

    /// <summary>Checks that <paramref name="members"/> can form an ensemble; throws <see cref="ArgumentException"/> naming the member that cannot.</summary>
    public static void Validate(IReadOnlyList<Sequential> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0)
        {
            throw new ArgumentException("An ensemble needs at least one member.", nameof(members));
        }
        for (int k = 0; k < members.Count; k++)
        {
            var member = members[k] ?? throw new ArgumentException($"Member {k} is null.", nameof(members));
            if (member.Layers.Count == 0)
            {
                throw new ArgumentException($"Member {k} has no layers.", nameof(members));
            }
            if (member.OutputShape.IsImage)
            {
                throw new ArgumentException($"Member {k}'s output {member.OutputShape} is not a vector of class scores.", nameof(members));
            }
            for (int j = 0; j < k; j++)
            {
                if (ReferenceEquals(members[j], member))
                {
                    throw new ArgumentException($"Member {k} is the same model as member {j}.", nameof(members));
                }
            }
            if (member.InputShape != members[0].InputShape)
            {
                throw new ArgumentException($"Member {k} takes {member.InputShape} but member 0 takes {members[0].InputShape}.", nameof(members));
            }
            if (member.Classes != members[0].Classes)
            {
                throw new ArgumentException($"Member {k} scores {member.Classes} classes but member 0 scores {members[0].Classes}.", nameof(members));
            }
            if (!SameClassNames(member.ClassNames, members[0].ClassNames))
            {
                throw new ArgumentException($"Member {k}'s class names ({Describe(member.ClassNames)}) differ from member 0's ({Describe(members[0].ClassNames)}).", nameof(members));
            }
        }
    }

    private static bool SameClassNames(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null ? b is null : b is not null && a.SequenceEqual(b, StringComparer.Ordinal);

    private static string Describe(IReadOnlyList<string>? names) =>
        names is null ? "none" : string.Join(", ", names.Take(5)) + (names.Count > 5 ? ", ..." : "");

    /// <summary>Each member's class probabilities for <paramref name="data"/>, in member order: N arrays of [data.Count, Classes].</summary>
    public float[][] PredictMembers(Dataset data, int batchSize = InferenceBatch)
    {
        ArgumentNullException.ThrowIfNull(data);
        return [.. _members.Select(m => Probabilities(m, m.Predict(data, batchSize)))];
    }

    /// <summary>
    /// The element-wise mean of equally long arrays: summed in list order from 0, then divided by
    /// the count (not multiplied by its reciprocal), in float.
    /// </summary>
    public static float[] Mean(IReadOnlyList<float[]> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count == 0)
        {
            throw new ArgumentException("Nothing to average.", nameof(outputs));
        }
        var sum = new float[outputs[0].Length];
        foreach (var output in outputs)
        {
            if (output.Length != sum.Length)
            {
                throw new ArgumentException($"Outputs differ in length ({output.Length} and {sum.Length}).", nameof(outputs));
            }
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += output[i];
            }
        }
        float n = outputs.Count;
        for (int i = 0; i < sum.Length; i++)
        {
            sum[i] /= n;
        }
        return sum;
    }

    /// <summary>The mean of the members' probabilities: [data.Count, Classes].</summary>
    public float[] Predict(Dataset data, int batchSize = InferenceBatch) => Mean(PredictMembers(data, batchSize));

    /// <summary>The mean of the members' probabilities for samples already scaled to floats. x: [n, H, W, C] → [n, Classes].</summary>
    public float[] Predict(ReadOnlySpan<float> x)
    {
        var outputs = new float[_members.Length][];
        for (int k = 0; k < _members.Length; k++)
        {
            outputs[k] = Probabilities(_members[k], _members[k].Predict(x));
        }
        return Mean(outputs);
    }

    /// <summary>
    /// Mean cross-entropy of the mean probabilities (each clamped to [<see cref="ProbabilityEpsilon"/>, 1]
    /// before the log) and the accuracy of their most probable class, on labelled data.
    /// </summary>
    public (double Loss, double Accuracy) Evaluate(Dataset data, int batchSize = InferenceBatch)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.HasLabels)
        {
            throw new ArgumentException("Evaluation needs labelled data.", nameof(data));
        }
        if (data.Count == 0)
        {
            throw new ArgumentException("The data set is empty.", nameof(data));
        }
        if (data.ClassCount() > Classes)
        {
            throw new ArgumentException($"The data has label {data.ClassCount() - 1} but the ensemble scores only {Classes} classes.", nameof(data));
        }
        var p = Predict(data, batchSize);
        double loss = 0;
        long correct = 0;
        for (int i = 0; i < data.Count; i++)
        {
            var row = p.AsSpan(i * Classes, Classes);
            int label = data.Label(i);
            loss -= Math.Log(Math.Clamp(row[label], ProbabilityEpsilon, 1));
            correct += Classifier.ArgMax(row) == label ? 1 : 0;
        }
        return (loss / data.Count, (double)correct / data.Count);
    }

    /// <summary>
    /// A table of the members and their parameter counts, the totals, then member 0's layer table
    /// and that of every member whose architecture differs from member 0's.
    /// </summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        string rule = new('_', 65);
        sb.AppendLine(CultureInfo.InvariantCulture, $"Ensemble of {_members.Length} model{(_members.Length == 1 ? "" : "s")} (predicts the mean of their probabilities)");
        sb.AppendLine(rule);
        sb.AppendLine(" Member                      Layers                    Param #   ");
        sb.AppendLine(new string('=', 65));
        for (int k = 0; k < _members.Length; k++)
        {
            var m = _members[k];
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $" {"member" + k,-27} {m.Layers.Count,-25} {m.ParameterCount + m.NonTrainableParameterCount,-10}").TrimEnd());
        }
        sb.AppendLine(new string('=', 65));
        int trainable = ParameterCount, nonTrainable = NonTrainableParameterCount, total = trainable + nonTrainable;
        sb.AppendLine(CultureInfo.InvariantCulture, $"Total params: {total:N0} ({total * 4 / 1024.0:F2} KB)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Trainable params: {trainable:N0} ({trainable * 4 / 1024.0:F2} KB)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Non-trainable params: {nonTrainable:N0} ({nonTrainable * 4 / 1024.0:F2} KB)");
        sb.AppendLine(rule);
        var differing = Enumerable.Range(1, _members.Length - 1).Where(k => !_members[k].HasSameArchitecture(_members[0])).ToList();
        sb.AppendLine();
        sb.AppendLine(differing.Count == 0 ? "Every member has the architecture of member0:" : "member0:");
        sb.Append(_members[0].Summary());
        foreach (int k in differing)
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"member{k}:");
            sb.Append(_members[k].Summary());
        }
        return sb.ToString();
    }

    /// <summary>Disposes every member.</summary>
    public void Dispose()
    {
        foreach (var member in _members)
        {
            member.Dispose();
        }
    }

    /// <summary><paramref name="outputs"/> as probabilities: as they are after a final Softmax, else through a softmax in place.</summary>
    private static float[] Probabilities(Sequential member, float[] outputs)
    {
        if (member.Layers[^1] is not Softmax)
        {
            Kernels.Softmax.Forward(outputs, outputs.Length / member.Classes, member.Classes, outputs);
        }
        return outputs;
    }
}

package dev.tandem.protocol.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import dev.tandem.protocol.grpc.health.HealthProto;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * Guards the public API's wire compatibility: every message field and enum value, with its number
 * and type, must match the checked-in {@code proto-field-numbers.txt}. Adding a field means adding
 * a line there; a changed or removed line means a client-breaking change.
 */
class FieldNumberStabilityTest {

  private static final String SNAPSHOT = "/proto-field-numbers.txt";

  static List<String> currentFields() {
    List<String> lines = new ArrayList<>();
    for (FileDescriptor file : List.of(InferenceProto.getDescriptor(), AdminProto.getDescriptor(),
        HealthProto.getDescriptor())) {
      file.getMessageTypes().forEach(m -> describe(m, lines));
      file.getEnumTypes().forEach(e -> describe(e, lines));
    }
    return lines;
  }

  private static void describe(Descriptor message, List<String> lines) {
    for (FieldDescriptor f : message.getFields()) {
      String label = f.isRepeated() ? "repeated " : "";
      String type = f.getType() == FieldDescriptor.Type.MESSAGE ? f.getMessageType().getFullName()
          : f.getType() == FieldDescriptor.Type.ENUM ? f.getEnumType().getFullName()
          : f.getType().name().toLowerCase();
      lines.add(message.getFullName() + "." + f.getName() + " = " + f.getNumber() + " : " + label + type);
    }
    message.getNestedTypes().forEach(m -> describe(m, lines));
    message.getEnumTypes().forEach(e -> describe(e, lines));
  }

  private static void describe(EnumDescriptor e, List<String> lines) {
    for (EnumValueDescriptor v : e.getValues()) {
      lines.add(e.getFullName() + "." + v.getName() + " = " + v.getNumber());
    }
  }

  @Test
  void fieldNumbersMatchTheSnapshot() throws IOException {
    String expected;
    try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream(SNAPSHOT), SNAPSHOT)) {
      expected = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
    }
    assertEquals(expected, String.join("\n", currentFields()),
        "public proto fields changed: additions go into " + SNAPSHOT + "; never renumber or reuse");
  }
}
